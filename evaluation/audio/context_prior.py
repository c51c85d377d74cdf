"""Would a temporal context model beat one frequency table per codebook? A measurement on training codes.

    python evaluation/audio/context_prior.py CHECKPOINT_OR_WEIGHTS [--seconds 300] [--groups 0,8,16,32]

Codes of the training audio (never the evaluation sets) are split two
thirds / one third by file. For each codebook, the previous frame's index
is mapped to one of G classes (k-means on the smoothed distributions of
the indices that follow it, fitted on the first part); the table of a
symbol is chosen by the class of its predecessor (a "start" table at the
first frame of each 48-frame packet). Bits per index are measured on the
held-out part; G = 0 is the shipped prior (one table per codebook).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def _smooth(counts: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    return (counts + strength * prior) / (counts.sum(axis=-1, keepdims=True) + strength)


def classes(pair: np.ndarray, unigram: np.ndarray, k: int, seed: int, iterations: int = 15) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weights = pair.sum(axis=1)
    cond = np.sqrt(_smooth(pair, unigram[None], 8.0))
    centres = cond[rng.choice(pair.shape[0], k, replace=False, p=(weights + 1) / (weights + 1).sum())]
    labels = np.zeros(pair.shape[0], dtype=np.int64)
    for _ in range(iterations):
        labels = ((cond[:, None, :] - centres[None]) ** 2).sum(-1).argmin(axis=1)
        for g in range(k):
            members = labels == g
            if members.any():
                w = weights[members] + 1e-3
                centres[g] = (cond[members] * w[:, None]).sum(0) / w.sum()
    return labels


def measure(train: list[np.ndarray], test: list[np.ndarray], levels: int, size: int, k: int,
            packet: int = 48) -> np.ndarray:
    uni = np.ones((levels, size))
    pair = np.zeros((levels, size, size), dtype=np.float32)
    for s in train:
        for lv in range(levels):
            np.add.at(uni[lv], s[lv], 1)
            np.add.at(pair[lv], (s[lv, :-1], s[lv, 1:]), 1)
    uni_p = uni / uni.sum(axis=1, keepdims=True)
    bits = np.zeros(levels)
    frames = sum(s.shape[1] for s in test)
    for lv in range(levels):
        if k:
            lab = classes(pair[lv], uni_p[lv], k, seed=lv)
            tables = np.stack([_smooth(pair[lv][lab == g].sum(0), uni_p[lv], 2.0 * size) for g in range(k)])
        for s in test:
            for a in range(0, s.shape[1], packet):
                row = s[lv, a:a + packet]
                p = np.full(row.size, 0.0)
                p[0] = uni_p[lv][row[0]]
                p[1:] = tables[lab[row[:-1]], row[1:]] if k else uni_p[lv][row[1:]]
                bits[lv] += -np.log2(p).sum()
    return bits / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a training checkpoint.pt or a shipped weights file")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--groups", default="0,8,16,32")
    parser.add_argument("--config", default="codec/models/audio/rvq/configs/audio-cpu.toml")
    args = parser.parse_args()
    from codec.models.audio.rvq.config import AudioTrainConfig
    from codec.models.audio.rvq.export import training_codes
    from codec.models.audio.rvq.network import AudioCodecNetwork, NetworkConfig

    if args.model.endswith(".pt"):
        state = torch.load(args.model, map_location="cpu", weights_only=False)
        net = AudioCodecNetwork(NetworkConfig.from_dict(state["config"]))
        net.load_state_dict(state["ema"])
    else:
        from codec.zoo import load_weights_file

        net = load_weights_file(args.model).loaded.network
    net.eval()
    seqs = training_codes(net, AudioTrainConfig.load(args.config), args.seconds)
    order = np.random.default_rng(0).permutation(len(seqs))
    train = [seqs[i] for i in order[: 2 * len(seqs) // 3]]
    test = [seqs[i] for i in order[2 * len(seqs) // 3:]]
    levels, size = net.cfg.codebooks, net.cfg.codebook_size
    print(f"frames: {sum(s.shape[1] for s in train)} fitted, {sum(s.shape[1] for s in test)} held out\n")
    print("| classes G | bits per index (mean over codebooks) | first 8 codebooks | vs fixed-length |")
    print("| ---: | ---: | ---: | ---: |")
    for k in (int(g) for g in args.groups.split(",")):
        b = measure(train, test, levels, size, k)
        print(f"| {k} | {b.mean():.3f} | {b[:8].mean():.3f} | {100 * (1 - b.mean() / np.log2(size)):.1f} % |")


if __name__ == "__main__":
    main()
