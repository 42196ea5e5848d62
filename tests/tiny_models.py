"""Tiny sentence-transformers models built on the fly, so tests run the real loading path offline.

A random-weight BERT (hidden size 32, 2 layers, 2 heads) with a WordPiece tokenizer trained on the
test text itself, wrapped as Transformer + mean Pooling and saved like any downloaded model. Its
vectors mean nothing; it exists to exercise loading, encoding and caching.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

TINY_HIDDEN_SIZE = 32
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# Written for the tests: a few lines per language so the tokenizer learns each script.
TRAINING_TEXT = (
    "Le Maroc présente sa stratégie nationale d'intelligence artificielle à Rabat.",
    "Les centres de données et la souveraineté numérique sont au cœur du plan.",
    "L'université forme des ingénieurs en apprentissage automatique.",
    "Morocco presents its national artificial intelligence strategy in Rabat.",
    "Data centres and digital sovereignty are at the heart of the plan.",
    "The ministry signed a partnership with a technology company.",
    "المغرب يقدم استراتيجيته الوطنية للذكاء الاصطناعي في الرباط.",
    "مراكز البيانات والسيادة الرقمية في قلب المخطط الجديد.",
    "الجامعة تكوّن مهندسين في التعلم الآلي والبيانات.",
    "داكشي ديال الذكاء الاصطناعي غادي يبدل بزاف ديال الخدمات.",
    "ⵜⴰⵎⴰⵣⵉⵖⵜ ⵜⵓⵜⵍⴰⵢⵜ ⵏ ⵍⵎⵖⵔⵉⴱ",
)


def build_tiny_model(folder: Path, texts: Sequence[str] = TRAINING_TEXT, *, seed: int = 0) -> Path:
    """Save a tiny random-weight sentence-transformers model into `folder` and return it."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers.models import Pooling, Transformer
    from sentence_transformers import SentenceTransformer

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(
        list(texts), trainers.WordPieceTrainer(vocab_size=400, special_tokens=list(SPECIAL_TOKENS))
    )
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    transformer_folder = folder / "transformer"
    fast.save_pretrained(transformer_folder)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=TINY_HIDDEN_SIZE,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(transformer_folder)
    model = SentenceTransformer(
        modules=[Transformer(str(transformer_folder), max_seq_length=128), Pooling(TINY_HIDDEN_SIZE, "mean")],
        device="cpu",
    )
    model_folder = folder / "model"
    model.save(str(model_folder))
    return model_folder
