"""Independent reference implementation of llama2.c's tokenizer (run.c encode()).

Naive O(n^2) merge loop exactly as run.c does it, applied per chunk: the text is
split before every space, which cannot change the result when no vocabulary piece
contains a space except at position 0 (checked in load()). Used to produce golden
token ids for QuantScope's C++ tokenizer tests.
"""
import struct


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off = 4
    pieces, scores = [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + n])
        scores.append(score)
        off += n
    for p in pieces:
        assert b" " not in p[1:], "a piece contains an inner space: chunking would be unsafe"
    lookup = {p: i for i, p in reversed(list(enumerate(pieces)))}  # first id wins, like run.c's bsearch on sorted unique
    return pieces, scores, lookup


def _encode_chunk(chunk, pieces, scores, lookup):
    tokens = []
    text = chunk.decode("utf-8")
    for ch in text:
        b = ch.encode("utf-8")
        if b in lookup:
            tokens.append(lookup[b])
        else:
            tokens.extend(x + 3 for x in b)
    while True:
        best, best_id, best_idx = -1e10, -1, -1
        for i in range(len(tokens) - 1):
            merged = pieces[tokens[i]] + pieces[tokens[i + 1]]
            j = lookup.get(merged)
            if j is not None and scores[j] > best:
                best, best_id, best_idx = scores[j], j, i
        if best_idx == -1:
            break
        tokens[best_idx:best_idx + 2] = [best_id]
    return tokens


def encode(text, pieces, scores, lookup, bos=True):
    """run.c encode(text, bos, eos=0) with the dummy-prefix space."""
    ids = [1] if bos else []
    if not text:
        return ids
    # the dummy-prefix token is the piece " ", i.e. the same as encoding " " + text
    data = b" " + text.encode("utf-8")
    # split before each space (the first chunk may be empty)
    chunks, start = [], 0
    for i in range(1, len(data)):
        if data[i:i + 1] == b" ":
            chunks.append(data[start:i])
            start = i
    chunks.append(data[start:])
    for c in chunks:
        if c:
            ids.extend(_encode_chunk(c, pieces, scores, lookup))
    return ids
