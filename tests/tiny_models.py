"""Tiny models for the tests: a sentence-transformers model built on the fly, and a test encoder.

`build_tiny_model` lets tests run the real sentence-transformers loading path offline; `TinyEncoder`
gives embeddings that mean something (themes, languages bridged) without any model.

A random-weight BERT (hidden size 32, 2 layers, 2 heads) with a WordPiece tokenizer trained on the
test text itself, wrapped as Transformer + mean Pooling and saved like any downloaded model. Its
vectors mean nothing; it exists to exercise loading, encoding and caching.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

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


class TinyEncoder:
    """A deterministic multilingual test encoder: the codebook's dictionary scores (which bridge
    languages, so "centres de données" and "مراكز البيانات" meet) joined to hashed character trigrams
    (which tell phrasings apart). No model, no download; (n, d) float32 rows of unit length."""

    identity: ClassVar[dict[str, str]] = {"name": "test-concepts", "kind": "test"}

    def __init__(self, codebook) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.codebook = codebook
        self.hasher = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 3), n_features=64, alternate_sign=False)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        from analysis.encoders.base import unit_rows
        from analysis.themes import dictionary_scores

        concepts = unit_rows(dictionary_scores(list(texts), self.codebook).to_numpy(), np.float64)
        chars = unit_rows(self.hasher.transform(list(texts)).toarray(), np.float64)
        return unit_rows(np.hstack([concepts, 0.5 * chars]), np.float64).astype(np.float32)
