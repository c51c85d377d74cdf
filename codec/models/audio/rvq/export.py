"""From a training checkpoint to the shipped weights file: EMA network weights plus a prior fitted on codes.

The prior is fitted on the codes of the training audio (never the
evaluation sets), read whole and coded with every codebook; how many bits it
saves against fixed-length codes on that audio is recorded in the file's
``info`` (and on evaluation audio by ``evaluation/audio/prior_savings.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from codec.models.audio.rvq.config import AudioTrainConfig
from codec.models.audio.rvq.model_file import save_model_file
from codec.models.audio.rvq.network import AudioCodecNetwork, NetworkConfig
from codec.models.audio.rvq.prior import fit_prior, fixed_length_bits
from codec.train.ema import load_ema

log = logging.getLogger("codec")


@torch.no_grad()
def training_codes(net: AudioCodecNetwork, cfg: AudioTrainConfig, max_seconds: float) -> list[np.ndarray]:
    """Code sequences (levels, frames) of every training signal (mono, mid and side of stereo files)."""
    from codec.models.audio.rvq.data import Category

    rate = cfg.network.sample_rate
    sequences = []
    budget = max_seconds * rate
    for c in cfg.categories:
        category = Category(c.name, cfg.folders(c), c.weight, tuple(cfg.exclude), rate, False)
        share = budget * c.weight / sum(x.weight for x in cfg.categories)
        used = 0
        for signal in category.signals:
            x = signal.samples
            mono = [x[0]] if x.shape[0] == 1 else [(x[0] + x[1]) / np.sqrt(2), (x[0] - x[1]) / np.sqrt(2)]
            for m in mono:
                n = (len(m) // net.cfg.hop) * net.cfg.hop
                if n == 0 or used >= share:
                    continue
                wave = torch.from_numpy(np.ascontiguousarray(m[:n], dtype=np.float32))[None]
                latent, _ = net.encode(wave)
                sequences.append(net.quantizer.encode(latent, net.cfg.codebooks)[0].numpy())
                used += n
    return sequences


def export_checkpoint(checkpoint: Path, out: Path, model_id: str, cfg: AudioTrainConfig, *,
                      prior_seconds: float = 1800.0) -> dict:
    net, state = load_ema(checkpoint, lambda config: AudioCodecNetwork(NetworkConfig.from_dict(config)),
                          config_key="config")
    # the shipped network is float16: fit the prior on the codes that network produces
    net.load_state_dict({k: v.half().float() for k, v in net.state_dict().items()})
    sequences = training_codes(net, cfg, prior_seconds)
    prior = fit_prior(sequences, net.cfg.codebooks, net.cfg.codebook_size)
    frames = sum(s.shape[1] for s in sequences)
    bits = sum(float(prior.level_bits(s).sum()) for s in sequences)
    fixed = frames * net.cfg.codebooks * fixed_length_bits(net.cfg.codebook_size)
    info = {"steps": int(state["step"]), "prior_training_frames": frames,
            "prior_bits_per_index_training": bits / (frames * net.cfg.codebooks),
            "prior_saving_training_percent": 100 * (1 - bits / fixed)}
    save_model_file(out, model_id, net, prior, info)
    log.info("prior: %.3f bits per index on %d training frames (%.1f %% below fixed-length codes)",
             info["prior_bits_per_index_training"], frames, info["prior_saving_training_percent"])
    return info
