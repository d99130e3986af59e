#!/usr/bin/env python3
"""Golden fixtures for tests/test_tokenizer.cpp (tests/fixtures/tokenizers/).

Everything expected by the C++ tests comes from implementations independent of
QuantScope's C++ code:

* Hugging Face `tokenizers` (Rust) for tokenizer.json files: small BPE
  tokenizers are trained here on TinyStories + WikiText-2 validation text and
  configured like the real models' files (GPT-2, RoBERTa/OPT, Qwen2, Llama-3,
  Llama-2, Mistral, plus two exercising the rarer options); expected ids are
  `Tokenizer.encode(text, add_special_tokens=False/True).ids` and the decoded
  text `Tokenizer.decode(ids, skip_special_tokens=True)`;
* a pure-Python port of OpenAI's GPT-2 `encoder.py` (regex + rank-ordered BPE)
  for vocab.json + merges.txt, cross-checked against `tokenizers`;
* a pure-Python port of llama2.c's run.c `encode()` (naive O(n^2) merge loop)
  for llama2.c tokenizer.bin files: the real tok512.bin of ../shared and a
  synthetic one with ties, inner spaces and NaN/-inf/floor scores.

Usage (from the repository root; ../shared must exist for the real-data part):
    python3 tests/tools/make_tokenizer_fixtures.py [--shared ../shared]
"""
import argparse
import json
import math
import os
import random
import struct
import sys

import regex
import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizers")
MOD = (1 << 61) - 1

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                  r"\s*[\r\n]+|\s+(?!\S)|\s+")
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

TRICKY = [
    "",
    "a",
    " ",
    "\n",
    "Hello world",
    " Hello world",
    "Hello world ",
    "  multiple   spaces  here  ",
    "tabs\tand\nnewlines\r\nCRLF\n\n\nend",
    "It's they're we've I'm you'll he'd DON'T O'Neil's",
    "numbers 0 12 345 6789 3.14159 1,000,000 2024-01-01 x86_64",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m",
    "cafe\u0301 decomposed e\u0301",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u4e2d\u6587 \ud55c\uad6d\uc5b4",
    "emoji \U0001F600\U0001F44D\U0001F3FD family \U0001F468\u200d\U0001F469\u200d\U0001F467 flag \U0001F1EB\U0001F1F7",
    "\u00dcn\u00efc\u00f6d\u00e9 \u2603 \u2605 \u2192 \u2211 \u221e \u2260 \u2264",
    "math: x^2 + y_1 = {a, b}; f(x) = [1, 2] <tag> & | ~ ` @ # $ % \\ \"q\"",
    "\u00a0nbsp\u00a0and\u2009thin\u3000ideographic\u180emongolian\u0085nel\u2028ls",
    "control \x01\x02\x7f chars and nul\x00byte",
    "Zero\u200bwidth\u200djoiner\ufeffBOM",
    "\U0001D518\U0001D52B\U0001D526\U0001D520\U0001D52C\U0001D521\U0001D522 \U00010348 astral",
    "The year 1996 \u2014 \u201cquoted\u201d \u2018single\u2019 \u2026 ellipsis",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "<|endoftext|>Special<s>tokens</s> in <|im_start|>text<|im_end|> and <|begin_of_text|>x<|end_of_text|>",
    "<s> leading special",
    "trailing special </s>",
    "[INST] What is 2+2? [/INST] Four.",
    "\u2581already has metaspace \u2581\u2581 chars",
    "<0x41> literal byte token text <0x0A>",
    "a" * 300,
    "quantscope quantscopequantscope  quantscope",
    "x<mask>y  <mask> z <mask>",
    "foo[SW]bar [SW] baz [SW]",
    "left<r>   right <r>\tend",
    "xx\u00dcN\u00cfyy \u00dcN\u00cf \u00fcn\u00ef",
    "<tool_call>call</tool_call> <tool_call>",
    "   leading and trailing   ",
    "\n\n = Robert Boulter = \n\n Robert Boulter is an English film , television and theatre actor .",
    "@-@ 1 @,@ 000 @.@ 5",
    "ALL CAPS SHOUTING and MiXeD cAsE",
    "\u0130stanbul \u00df STRASSE \uFB01 ligature \u2460 circled \uff21\uff22 fullwidth",
]


def checksum(ids):
    s = 0
    for i, t in enumerate(ids):
        s = (s + (i + 1) * t) % MOD
    return s


# ----------------------------------------------------------------------------
# Text
# ----------------------------------------------------------------------------

def read_tinystories(shared):
    with open(os.path.join(shared, "data", "tinystories", "valid-slice.txt"), "rb") as f:
        return f.read().decode("utf-8").replace("\r\n", "\n")


def read_wikitext(shared, split):
    rows = []
    with open(os.path.join(shared, "data", "wikitext-2-raw", split + ".jsonl"), encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line)["text"])
    return "\n\n".join(rows)


def training_corpus(shared):
    lines = read_tinystories(shared).split("\n")
    wiki = read_wikitext(shared, "validation")[:300_000]
    lines += wiki.split("\n")
    lines += ["Th\u00e9 caf\u00e9 \u65e5\u672c \u00fcber na\u00efve \u2014 \u201cok\u201d 2024"] * 20
    return [l for l in lines if l]


# ----------------------------------------------------------------------------
# HF tokenizers
# ----------------------------------------------------------------------------

def train_bytelevel(corpus, vocab_size, specials, pre_tok, normalizer=None):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tok
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    tok.decoder = decoders.ByteLevel()
    return tok


def sp_vocab_and_merges(corpus):
    """A SentencePiece-style vocabulary laid out like Llama-2's: <unk> <s> </s>,
    the 256 <0xNN> byte tokens, then the learnt pieces ("▁" for spaces)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
                                  limit_alphabet=120)
    tok.train_from_iterator(corpus, trainer)
    model = json.loads(tok.to_str())["model"]
    learnt = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = 3 + b
    for piece, _ in learnt:
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    return vocab, merges


def specials(tok, *names):
    return [AddedToken(n, special=True, normalized=False) for n in names]


def make_hf_fixtures(corpus, cases_extra):
    made = {}

    # GPT-2: ByteLevel regex pre-tokenizer, no BOS, <|endoftext|>.
    gpt2 = train_bytelevel(corpus, 800, ["<|endoftext|>"], pre_tokenizers.ByteLevel(add_prefix_space=False))
    gpt2.post_processor = processors.ByteLevel(trim_offsets=False)
    made["gpt2"] = gpt2

    # RoBERTa/OPT-style vocabulary (<s> <pad> </s> <unk>): RoBERTa settings in
    # tokenizer.json (add_prefix_space, RobertaProcessing, <mask> with lstrip).
    rob = train_bytelevel(corpus, 800, ["<s>", "<pad>", "</s>", "<unk>"], pre_tokenizers.ByteLevel(add_prefix_space=True))
    rob.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    rob.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                                      add_prefix_space=True)
    made["roberta"] = rob

    # Qwen2: NFC, Split regex + ByteLevel without regex, chat specials, a
    # non-special added token.
    qwen = train_bytelevel(
        corpus, 800, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]), normalizer=normalizers.NFC())
    qwen.add_tokens([AddedToken("<tool_call>", special=False, normalized=False),
                     AddedToken("</tool_call>", special=False, normalized=False)])
    qwen.post_processor = processors.ByteLevel(trim_offsets=False)
    made["qwen2"] = qwen

    # Llama-3: Split regex with 1-3 digit groups, ignore_merges, BOS template.
    l3 = train_bytelevel(
        corpus, 700, ["<|begin_of_text|>", "<|end_of_text|>"],
        pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
        ]))
    d = json.loads(l3.to_str())
    d["model"]["ignore_merges"] = True
    # whole-word entries that the merges do not build: only ignore_merges finds them
    for w in ["\u0120quantscope", "quantscope"]:
        d["model"]["vocab"][w] = len(d["model"]["vocab"])
    l3 = Tokenizer.from_str(json.dumps(d))
    l3.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                      pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                                      special_tokens=[("<|begin_of_text|>", 0)])
    made["llama3"] = l3

    vocab, merges = sp_vocab_and_merges(corpus)

    # Llama-2: Prepend + Replace normalizer, no pre-tokenizer (the whole text is
    # one BPE word), byte fallback, fused unk, <s> template.
    ll = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges), unk_token="<unk>", byte_fallback=True,
                              fuse_unk=True))
    ll.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    ll.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                    decoders.Strip(" ", 1, 0)])
    ll.add_special_tokens(specials(ll, "<unk>", "<s>", "</s>"))
    ll.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                      special_tokens=[("<s>", 1)])
    made["llama2"] = ll

    # Mistral (newer files): Metaspace pre-tokenizer with prepend_scheme "first",
    # no split, Metaspace decoder, [INST] specials.
    mi = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges), unk_token="<unk>", byte_fallback=True,
                              fuse_unk=True))
    mi.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    mi.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    mi.add_special_tokens(specials(mi, "<unk>", "<s>", "</s>", "[INST]", "[/INST]"))
    mi.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                      special_tokens=[("<s>", 1)])
    made["mistral"] = mi

    # Rarer options: no byte fallback (unk, fused), NFKC + Lowercase + regex
    # Replace + Strip normalizers, Digits + Metaspace(split) pre-tokenizers,
    # lstrip / rstrip / single_word / normalized added tokens, BertProcessing.
    sp = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges), unk_token="<unk>", byte_fallback=False,
                              fuse_unk=True))
    sp.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(),
                                          normalizers.Replace(Regex(r"\s{2,}"), " "),
                                          normalizers.Strip(left=False, right=True)])
    sp.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                pre_tokenizers.Metaspace(replacement="\u2581",
                                                                         prepend_scheme="always", split=True)])
    sp.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    sp.add_special_tokens(specials(sp, "<unk>", "<s>", "</s>"))
    sp.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False),
                           AddedToken("<r>", rstrip=True, special=True, normalized=False)])
    sp.add_tokens([AddedToken("[SW]", single_word=True, special=False, normalized=False),
                   AddedToken("\u00dcN\u00cf", special=False, normalized=True)])
    sp.post_processor = processors.BertProcessing(("</s>", 2), ("<s>", 1))
    made["sp-misc"] = sp

    # continuing_subword_prefix / end_of_word_suffix, Split(Removed) on
    # whitespace, Replace + BPEDecoder decoders.
    sw = Tokenizer(models.BPE(unk_token="<unk>", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    sw.pre_tokenizer = pre_tokenizers.Split(Regex(r"\s+"), behavior="removed")
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<unk>"], show_progress=False, limit_alphabet=100,
                                  continuing_subword_prefix="##", end_of_word_suffix="</w>")
    sw.train_from_iterator(corpus, trainer)
    sw.decoder = decoders.Sequence([decoders.Replace("##", ""), decoders.BPEDecoder(suffix="</w>")])
    made["subword"] = sw
    return made


def hf_cases(tok, texts):
    cases = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False).ids
        ids_sp = tok.encode(t, add_special_tokens=True).ids
        cases.append({"text": t, "ids": ids, "ids_special": ids_sp,
                      "decoded": tok.decode(ids_sp, skip_special_tokens=True)})
    return cases


# ----------------------------------------------------------------------------
# GPT-2 encoder.py port (vocab.json + merges.txt), independent of tokenizers
# ----------------------------------------------------------------------------

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Gpt2Encoder:
    """OpenAI GPT-2 encoder.py: regex pre-tokenization, then repeatedly merge the
    lowest-rank bigram (all its occurrences, left to right)."""

    def __init__(self, vocab_path, merges_path, specials=("<|endoftext|>",)):
        with open(vocab_path, encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(merges_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        merges = [tuple(l.split(" ")) for l in lines if l and not l.startswith("#version")]
        self.ranks = dict(zip(merges, range(len(merges))))
        self.byte_encoder = bytes_to_unicode()
        self.pat = regex.compile(GPT2_PATTERN)
        self.specials = [s for s in specials if s in self.encoder]

    def bpe(self, token):
        word = tuple(token)
        if len(word) < 2:
            return list(word)
        while True:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
        return list(word)

    def encode_plain(self, text):
        ids = []
        for tok in self.pat.findall(text):
            mapped = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids.extend(self.encoder[p] for p in self.bpe(mapped))
        return ids

    def encode(self, text):
        if not self.specials:
            return self.encode_plain(text)
        parts = regex.split("(" + "|".join(regex.escape(s) for s in self.specials) + ")", text)
        ids = []
        for p in parts:
            if p in self.specials:
                ids.append(self.encoder[p])
            elif p:
                ids.extend(self.encode_plain(p))
        return ids


# ----------------------------------------------------------------------------
# llama2.c run.c port
# ----------------------------------------------------------------------------

def load_llama2c(path):
    with open(path, "rb") as f:
        data = f.read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off, pieces, scores = 4, [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        pieces.append(data[off + 8:off + 8 + n])
        scores.append(score)
        off += 8 + n
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)  # lowest id for duplicates (there are none in real files)
    return pieces, scores, lookup


def runc_initial(data, lookup):
    """Dummy prefix + per-codepoint lookup / byte fallback, as run.c (data: bytes)."""
    tokens = []
    if not data:
        return tokens
    tokens.append(lookup.get(b" ", 0x20 + 3))
    i, n = 0, len(data)
    while i < n:
        l = 1
        while i + l < n and l < 4 and (data[i + l] & 0xC0) == 0x80:
            l += 1
        p = data[i:i + l]
        if p in lookup:
            tokens.append(lookup[p])
        else:
            tokens.extend(b + 3 for b in p)
        i += l
    return tokens


def runc_merge(tokens, pieces, scores, lookup):
    tokens = list(tokens)
    while True:
        best, best_id, best_idx = -1e10, -1, -1  # -1e10 is exact in float32
        for i in range(len(tokens) - 1):
            j = lookup.get(pieces[tokens[i]] + pieces[tokens[i + 1]])
            if j is not None and scores[j] > best:
                best, best_id, best_idx = scores[j], j, i
        if best_idx == -1:
            return tokens
        tokens[best_idx:best_idx + 2] = [best_id]


def runc_encode(text, pieces, scores, lookup):
    """encode(text, bos=0, eos=0): naive, whole string."""
    return runc_merge(runc_initial(text.encode("utf-8"), lookup), pieces, scores, lookup)


def runc_encode_chunked(text, pieces, scores, lookup):
    """Same result for vocabularies whose pieces hold a space only at position 0:
    no merge can then join tokens across a space, so the token list is cut before
    every " " token and each chunk merged on its own (fast enough for 1.3M chars)."""
    for p in pieces:
        assert b" " not in p[1:], "a piece holds an inner space: chunking would be unsafe"
    toks = runc_initial(text.encode("utf-8"), lookup)
    space = lookup.get(b" ")
    out, start = [], 0
    for i in range(1, len(toks) + 1):
        if i == len(toks) or toks[i] == space:
            out.extend(runc_merge(toks[start:i], pieces, scores, lookup))
            start = i
    return out


def runc_decode(ids, pieces):
    """run.c decode() over a sequence, BOS/EOS skipped (bytes)."""
    out, prev = b"", -1
    for t in ids:
        if t not in (1, 2):
            p = pieces[t]
            if len(p) == 6 and p.startswith(b"<0x") and p.endswith(b">"):
                p = bytes([int(p[3:5], 16)])
            elif prev == 1 and p.startswith(b" "):
                p = p[1:]
            out += p
        prev = t
    return out


def write_llama2c(path, pieces, scores):
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p in pieces)))
        for p, s in zip(pieces, scores):
            f.write(struct.pack("<fi", s, len(p)))
            f.write(p)


def llama2c_cases(texts, pieces, scores, lookup):
    cases = []
    for t in texts:
        ids = runc_encode(t, pieces, scores, lookup)
        c = {"text": t, "ids": ids, "ids_special": [1] + ids}
        try:
            c["decoded"] = runc_decode([1] + ids, pieces).decode("utf-8")
        except UnicodeDecodeError:
            pass
        cases.append(c)
    return cases


def synthetic_llama2c():
    """A llama2.c vocabulary exercising the merge rule: equal scores (leftmost
    wins), a piece with an inner space, scores at/below run.c's -1e10 floor,
    NaN and -inf (never merged), and no piece for some characters."""
    pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [b"<0x%02X>" % b for b in range(256)]
    scores = [0.0] * len(pieces)
    extra = [
        (b" ", 0.0), (b"a", 0.0), (b"b", 0.0), (b"c", 0.0), (b"\xc3\xa9", 0.0),
        (b"ab", 1.0), (b"ba", 1.0), (b"bc", 1.0), (b"abc", 2.0), (b"a b", 3.0), (b" a", 0.5),
        (b"abab", 1.0), (b"aa", -1e10), (b"cc", float("nan")), (b"ca", float("-inf")),
        (b" ab", 1.0), (b"cb", -1e10 * 0.99), (b"\xc3\xa9a", 2.5), (b"  ", 0.75),
    ]
    for p, s in extra:
        pieces.append(p)
        scores.append(struct.unpack("<f", struct.pack("<f", s))[0])
    return pieces, scores


# ----------------------------------------------------------------------------

def dump(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=True, indent=None, separators=(",", ":"))
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    args = ap.parse_args()
    shared = args.shared
    os.makedirs(OUT, exist_ok=True)
    note = "produced by tests/tools/make_tokenizer_fixtures.py with tokenizers %s, regex %s, python %s" % (
        tokenizers.__version__, regex.__version__, sys.version.split()[0])

    tiny = read_tinystories(shared)
    wiki = read_wikitext(shared, "test")
    snippets = [wiki[:3000], wiki[600_000:603_000], tiny[:2000]]
    texts = TRICKY + snippets

    corpus = training_corpus(shared)
    made = make_hf_fixtures(corpus, snippets)
    for name, tok in made.items():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"))
        # round-trip through the saved file, as the C++ side reads it
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        dump(os.path.join(d, "expected.json"), {
            "_note": note, "vocab_size": tok.get_vocab_size(with_added_tokens=True), "cases": hf_cases(tok, texts)})
        print(name, tok.get_vocab_size(with_added_tokens=True), os.path.getsize(os.path.join(d, "tokenizer.json")))

    # Llama-2 style: tokenizer_config.json as the real repository has it.
    dump(os.path.join(OUT, "llama2", "tokenizer_config.json"),
         {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
          "unk_token": "<unk>", "tokenizer_class": "LlamaTokenizer"})

    # GPT-2 vocab.json + merges.txt: written by the library, expected ids from the
    # encoder.py port, which must agree with tokenizers.
    g = os.path.join(OUT, "gpt2")
    made["gpt2"].model.save(g)
    enc = Gpt2Encoder(os.path.join(g, "vocab.json"), os.path.join(g, "merges.txt"))
    gpt2_tok = Tokenizer.from_file(os.path.join(g, "tokenizer.json"))
    vm_cases = []
    for t in texts:
        ids = enc.encode(t)
        assert ids == gpt2_tok.encode(t, add_special_tokens=False).ids, ("encoder.py port != tokenizers", t)
        vm_cases.append({"text": t, "ids": ids, "ids_special": ids})
    dump(os.path.join(g, "expected_vocab_merges.json"), {"_note": note, "cases": vm_cases})

    # OPT style: vocab.json + merges.txt + tokenizer_config.json adding "</s>" as BOS.
    o = os.path.join(OUT, "opt")
    os.makedirs(o, exist_ok=True)
    made["roberta"].model.save(o)
    dump(os.path.join(o, "tokenizer_config.json"),
         {"add_bos_token": True, "bos_token": {"content": "</s>", "lstrip": False, "normalized": True,
                                               "rstrip": False, "single_word": False},
          "eos_token": "</s>", "unk_token": "</s>", "pad_token": "<pad>", "add_prefix_space": False,
          "tokenizer_class": "GPT2Tokenizer"})
    enc = Gpt2Encoder(os.path.join(o, "vocab.json"), os.path.join(o, "merges.txt"),
                      specials=("</s>", "<pad>"))
    opt_cases = []
    for t in texts:
        ids = enc.encode(t)
        opt_cases.append({"text": t, "ids": ids, "ids_special": [enc.encoder["</s>"]] + ids})
    dump(os.path.join(o, "expected.json"), {"_note": note, "cases": opt_cases})

    # llama2.c: the real tok512 (short strings, naive whole-string run.c port) ...
    l2 = os.path.join(OUT, "llama2c")
    os.makedirs(l2, exist_ok=True)
    tok512 = os.path.join(shared, "models", "stories260K", "tok512.bin")
    pieces, scores, lookup = load_llama2c(tok512)
    dump(os.path.join(l2, "expected_tok512.json"),
         {"_note": note, "vocab_size": len(pieces), "cases": llama2c_cases(texts, pieces, scores, lookup)})
    # ... and the real data (chunked port; whole text, BOS prepended).
    real = {"_note": note + "; checksum = sum((i+1)*id[i]) mod (2^61-1)"}
    for key, text, src in (("tinystories", tiny, "data/tinystories/valid-slice.txt (CRLF -> LF)"),
                           ("wikitext2_test", wiki, "data/wikitext-2-raw/test.jsonl rows joined by \"\\n\\n\"")):
        ids = [1] + runc_encode_chunked(text, pieces, scores, lookup)
        real[key] = {"source": src, "chars": len(text), "bytes": len(text.encode("utf-8")), "tokens": len(ids),
                     "first_ids": ids[:200], "checksum": checksum(ids)}
        print(key, len(ids), checksum(ids))
    dump(os.path.join(l2, "real_tok512.json"), real)

    # synthetic llama2.c vocabulary
    pieces, scores = synthetic_llama2c()
    write_llama2c(os.path.join(l2, "synthetic.bin"), pieces, scores)
    pieces, scores, lookup = load_llama2c(os.path.join(l2, "synthetic.bin"))
    rng = random.Random(1234)
    alphabet = ["a", "b", "c", " ", "\u00e9", "d", "  "]
    syn = ["", "a", " ", "ab", "abab", "aa", "cc", "ca", "a b", "ababab", "ba ba", "\u00e9a", "cbc"]
    for n in list(range(1, 41)) + [200, 400]:
        syn.append("".join(rng.choice(alphabet) for _ in range(n)))
    dump(os.path.join(l2, "expected_synthetic.json"),
         {"_note": note, "vocab_size": len(pieces), "cases": llama2c_cases(syn, pieces, scores, lookup)})


if __name__ == "__main__":
    main()
