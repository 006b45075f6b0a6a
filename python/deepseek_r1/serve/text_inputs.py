"""Text in, tokens out: a BYTES input that the server tokenizes for a text model.

    repo/minilm/config.json: {"tokenizer": {"file": "tokenizer.json", "input": "text", "max_length": 128}}
    client.infer("minilm", {"text": ["first sentence", "second one"]})      # BYTES [2] -> embeddings [2, 384]

The request sends one BYTES tensor of n sentences (shape [n] or [n, 1]); the server encodes them with the
Hugging Face `tokenizers` file into whichever of input_ids / attention_mask / token_type_ids the model takes,
padded to the longest sentence and truncated to max_length. The tokens are padded with 0, which the attention
mask makes harmless, so the batcher may pad requests of different lengths into one batch (pad_values default to 0
for these inputs). `file` is resolved against the model's directory and confined to it (model_files.py); the
file is read to a bound (MAX_TOKENIZER_BYTES) and parsed from memory, never opened by the tokenizers library.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import BadRequest
from .model_files import read_model_file

TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
MAX_TOKENIZER_BYTES = 64 << 20  # the largest Hugging Face tokenizer.json files are ~20 MB


class TextInput:
    def __init__(self, spec: dict, model_dir: Path, model_inputs):
        unknown = sorted(set(spec) - {"file", "input", "max_length"})
        if unknown or not isinstance(spec.get("file"), str):
            raise BadRequest(f"tokenizer config takes 'file' (required), 'input' and 'max_length'; got {spec!r}")
        self.name = spec.get("input", "text")
        self.max_length = spec.get("max_length", 512)
        if type(self.max_length) is not int or not 1 <= self.max_length <= 65536:  # not bool, an int subclass
            raise BadRequest(f"tokenizer max_length must be an int from 1 to 65536, got {self.max_length!r}")
        names = {t.name: t for t in model_inputs}
        self.feeds = [n for n in TOKEN_INPUTS if n in names]
        if "input_ids" not in names:
            raise BadRequest(f"a tokenizer needs a model input named 'input_ids'; the inputs are {sorted(names)}")
        if self.name in names:
            raise BadRequest(f"tokenizer input '{self.name}' collides with a model input of that name")
        self.dtypes = {n: names[n].numpy_dtype for n in self.feeds}
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise BadRequest("a tokenizer config needs the 'tokenizers' package (pip install tokenizers)") from None
        try:
            text = read_model_file(model_dir, spec["file"], MAX_TOKENIZER_BYTES, "tokenizer").decode("utf-8")
            self.tokenizer = Tokenizer.from_str(text)
        except BadRequest as e:
            raise BadRequest(f"cannot load tokenizer: {e.message}") from None
        except Exception as e:  # not UTF-8, not a tokenizer: the library says why (it never saw a path)
            raise BadRequest(f"cannot load tokenizer: {type(e).__name__}: {str(e)[:300]}") from None
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding()

    def metadata(self) -> dict:
        return {"name": self.name, "datatype": "BYTES", "shape": [-1]}

    def __call__(self, inputs: dict) -> dict:
        """The request's inputs with the text replaced by token tensors (other inputs pass through)."""
        if self.name not in inputs:
            return inputs
        given = [n for n in self.feeds if n in inputs]
        if given:
            raise BadRequest(f"send either '{self.name}' or the token inputs {given}, not both")
        text = inputs[self.name]
        if text.dtype != object or not (text.ndim == 1 or (text.ndim == 2 and text.shape[1] == 1)):
            raise BadRequest(
                f"input '{self.name}' must be a BYTES tensor of shape [n] or [n, 1], "
                f"got {text.dtype} {list(text.shape)}"
            )
        if text.size == 0:
            raise BadRequest(f"input '{self.name}' holds no text")
        try:
            sentences = [s.decode("utf-8") if isinstance(s, (bytes, bytearray)) else str(s) for s in text.ravel()]
        except UnicodeDecodeError as e:
            raise BadRequest(f"input '{self.name}' is not UTF-8 text: {e}") from None
        enc = self.tokenizer.encode_batch(sentences)
        columns = {
            "input_ids": [e.ids for e in enc],
            "attention_mask": [e.attention_mask for e in enc],
            "token_type_ids": [e.type_ids for e in enc],
        }
        out = {k: v for k, v in inputs.items() if k != self.name}
        for n in self.feeds:
            out[n] = np.asarray(columns[n], dtype=self.dtypes[n])
        return out
