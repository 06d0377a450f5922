"""Byte-level BPE you can train on your own text, encoding exactly like tiktoken.

Text is first split into chunks by GPT-2's pre-tokenisation regex (so merges never cross a word /
number / punctuation boundary), each chunk is UTF-8 encoded, and merges are learned over bytes.
Ids 0..255 are the single bytes, 256.. the merged tokens in the order they were learned (their
rank), then the special tokens. Encoding follows tiktoken's rule: repeatedly merge the adjacent
pair whose concatenated bytes have the lowest rank, so `to_tiktoken()` gives an identical encoder.
"""
import heapq
from collections import Counter, defaultdict

from .base import Tokenizer

try:
    import regex  # \p{L} / \p{N} classes, which the standard `re` module lacks
except ImportError:  # pragma: no cover - regex comes with tiktoken and transformers
    regex = None

# GPT-2's pattern (tiktoken's r50k_base): contractions, letters, numbers, other symbols, whitespace
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# GPT-4's pattern (cl100k_base), for those who want it
GPT4_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
                r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")
PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}
ENDOFTEXT = "<|endoftext|>"


def _compile(pattern):
    if regex is None:
        raise ImportError("BPETokenizer needs the `regex` package for GPT-2's \\p{L}/\\p{N} pattern: "
                          "pip install regex")
    return regex.compile(PATTERNS.get(pattern, pattern))


def _merge_word(word, pair, new_id):
    """`word` (a list of ids) with every non-overlapping occurrence of `pair`, left to right, replaced."""
    out, i, n = [], 0, len(word)
    a, b = pair
    while i < n:
        if i + 1 < n and word[i] == a and word[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


class BPETokenizer(Tokenizer):
    """`merges[k] = (left_id, right_id)` defines token 256 + k as the concatenation of their bytes.
    `special_tokens` maps strings such as "<|endoftext|>" to ids after the merged tokens."""

    kind = "bpe"

    def __init__(self, merges=(), special_tokens=(ENDOFTEXT,), pattern=GPT2_PATTERN):
        self.merges = [tuple(int(i) for i in pair) for pair in merges]
        self.pattern = PATTERNS.get(pattern, pattern)
        self._regex = _compile(self.pattern)
        self.vocab = [bytes([i]) for i in range(256)]  # id -> bytes, for ordinary tokens
        for k, (a, b) in enumerate(self.merges):
            if not (0 <= a < len(self.vocab) and 0 <= b < len(self.vocab)):
                raise ValueError(f"merge {k} = ({a}, {b}) refers to a token not defined before it")
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self.ranks = {token: i for i, token in enumerate(self.vocab)}
        if len(self.ranks) != len(self.vocab):
            raise ValueError("merges define the same byte string twice; tiktoken-style ranks need distinct tokens")
        if not isinstance(special_tokens, dict):  # a list of names: ids follow the merged tokens
            special_tokens = {s: len(self.vocab) + k for k, s in enumerate(special_tokens)}
        self.special_tokens = dict(special_tokens)
        if any(i < len(self.vocab) for i in self.special_tokens.values()):
            raise ValueError(f"special token ids must come after the {len(self.vocab)} byte/merged tokens, "
                             f"got {self.special_tokens}")
        self.special_ids = {i: s for s, i in self.special_tokens.items()}
        self._cache = {}  # chunk -> ids; words repeat a lot in natural text
        self._special_regexes = {}

    # ---- training ----
    @classmethod
    def train(cls, text, vocab_size, special_tokens=(ENDOFTEXT,), pattern=GPT2_PATTERN, verbose=False):
        """Learn `vocab_size - 256 - len(special_tokens)` merges from `text`.

        Counts each distinct chunk once with its frequency, keeps the pair counts (weighted by chunk
        frequency) and the chunks each pair occurs in, and after a merge updates only the chunks that
        contained the merged pair; a max-heap with lazy deletion finds the most frequent pair.
        Ties go to the smallest (left, right) id pair. Stops early if the text runs out of pairs."""
        special_tokens = list(special_tokens)
        num_merges = vocab_size - 256 - len(special_tokens)
        if num_merges < 0:
            raise ValueError(f"vocab_size={vocab_size} is smaller than the 256 byte tokens plus "
                             f"{len(special_tokens)} special tokens")
        pretokenize = _compile(pattern)
        if special_tokens:  # special tokens in the text separate documents; they are never merged into
            pieces = regex.split("|".join(regex.escape(s) for s in special_tokens), text)
        else:
            pieces = [text]
        chunk_counts = Counter(chunk for piece in pieces for chunk in pretokenize.findall(piece))
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        freqs = list(chunk_counts.values())
        pair_counts = defaultdict(int)
        where = defaultdict(set)  # pair -> indices of the words it occurs in (may hold stale entries)
        for wi, word in enumerate(words):
            for pair in zip(word, word[1:]):
                pair_counts[pair] += freqs[wi]
                where[pair].add(wi)
        heap = [(-count, pair) for pair, count in pair_counts.items()]
        heapq.heapify(heap)

        vocab = [bytes([i]) for i in range(256)]
        token_id = {token: i for i, token in enumerate(vocab)}
        merges = []
        while len(merges) < num_merges and heap:
            neg_count, pair = heapq.heappop(heap)
            if pair_counts.get(pair, 0) != -neg_count:
                continue  # stale heap entry: the count changed after it was pushed
            new_bytes = vocab[pair[0]] + vocab[pair[1]]
            new_id = token_id.get(new_bytes)
            if new_id is None:
                new_id = len(vocab)
                vocab.append(new_bytes)
                token_id[new_bytes] = new_id
                merges.append(pair)
                if verbose:
                    print(f"merge {len(merges)}/{num_merges}: {pair} -> {new_id} {new_bytes!r} ({-neg_count})")
            # else: another split already made these bytes a token; reuse it (tiktoken ranks are by bytes)
            changed = set()
            for wi in where.pop(pair):
                word, freq = words[wi], freqs[wi]
                new_word = _merge_word(word, pair, new_id)
                if len(new_word) == len(word):
                    continue
                for p in zip(word, word[1:]):
                    pair_counts[p] -= freq
                    changed.add(p)
                for p in zip(new_word, new_word[1:]):
                    pair_counts[p] += freq
                    where[p].add(wi)
                    changed.add(p)
                words[wi] = new_word
            for p in changed:
                count = pair_counts[p]
                if count > 0:
                    heapq.heappush(heap, (-count, p))
                else:
                    del pair_counts[p]
        return cls(merges, special_tokens, pattern)

    # ---- encoding ----
    @property
    def vocab_size(self):
        return len(self.vocab) + len(self.special_tokens)

    @property
    def eot_token(self):
        return self.special_tokens.get(ENDOFTEXT)

    def _encode_chunk(self, chunk):
        ids = self._cache.get(chunk)
        if ids is not None:
            return ids
        data = chunk.encode("utf-8")
        if data in self.ranks:  # tiktoken takes a whole chunk that is a token as is
            ids = [self.ranks[data]]
        else:
            parts = [data[i:i + 1] for i in range(len(data))]
            while len(parts) > 1:
                # merge the leftmost adjacent pair of lowest rank, one at a time, as tiktoken does
                best_rank, best_i = None, None
                for i in range(len(parts) - 1):
                    rank = self.ranks.get(parts[i] + parts[i + 1])
                    if rank is not None and (best_rank is None or rank < best_rank):
                        best_rank, best_i = rank, i
                if best_rank is None:
                    break
                parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
            ids = [self.ranks[p] for p in parts]
        if len(self._cache) < 1_000_000:
            self._cache[chunk] = ids
        return ids

    def encode_ordinary(self, text):
        """Encode `text`, treating special-token strings as ordinary text (tiktoken's encode_ordinary)."""
        ids = []
        for chunk in self._regex.findall(text):
            ids.extend(self._encode_chunk(chunk))
        return ids

    def encode(self, text, allowed_special=frozenset(), disallowed_special="all"):
        """tiktoken's rules: special tokens in `allowed_special` ("all" or a set) become their ids; any
        in `disallowed_special` ("all" = every special not allowed) raise ValueError; the rest are text."""
        if allowed_special == "all":
            allowed_special = set(self.special_tokens)
        allowed_special = set(allowed_special)
        if disallowed_special == "all":
            disallowed_special = set(self.special_tokens) - allowed_special
        disallowed_special = set(disallowed_special)
        unknown = (allowed_special | disallowed_special) - set(self.special_tokens)
        if unknown:
            raise ValueError(f"unknown special tokens {sorted(unknown)}; this tokenizer has "
                             f"{sorted(self.special_tokens)}")
        if disallowed_special:
            found = self._special_regex(disallowed_special).search(text)
            if found:
                raise ValueError(
                    f"Encountered text corresponding to disallowed special token {found.group()!r}. Pass "
                    f"allowed_special={{{found.group()!r}}} (or 'all') to encode it as a special token, or "
                    f"disallowed_special=() (or use encode_ordinary) to encode it as normal text.")
        if not allowed_special:
            return self.encode_ordinary(text)
        ids, start = [], 0
        for match in self._special_regex(allowed_special).finditer(text):
            ids.extend(self.encode_ordinary(text[start:match.start()]))
            ids.append(self.special_tokens[match.group()])
            start = match.end()
        ids.extend(self.encode_ordinary(text[start:]))
        return ids

    def _special_regex(self, names):
        """A regex matching any of the special tokens `names` (longest first), compiled once per set."""
        key = frozenset(names)
        if key not in self._special_regexes:
            alternatives = sorted(key, key=len, reverse=True)
            self._special_regexes[key] = regex.compile("|".join(regex.escape(s) for s in alternatives))
        return self._special_regexes[key]

    # ---- decoding ----
    def decode_bytes(self, ids):
        out = []
        for i in ids:
            i = int(i)
            if 0 <= i < len(self.vocab):
                out.append(self.vocab[i])
            elif i in self.special_ids:
                out.append(self.special_ids[i].encode("utf-8"))
            else:
                raise ValueError(f"token id {i} is out of range for a BPETokenizer with vocab_size {self.vocab_size}")
        return b"".join(out)

    def decode(self, ids, errors="replace"):
        """Bytes of the ids, UTF-8 decoded. Ids that cut a multi-byte character (e.g. a slice of a
        sequence) give U+FFFD for the broken bytes with errors="replace", like tiktoken; pass
        errors="strict" to raise instead, or use decode_bytes."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    # ---- export / serialisation ----
    def mergeable_ranks(self):
        """bytes -> rank, tiktoken's `mergeable_ranks`."""
        return dict(self.ranks)

    def to_tiktoken(self, name="mytorch-bpe"):
        """An equivalent `tiktoken.Encoding` (fast Rust encoder, same ids)."""
        import tiktoken

        return tiktoken.Encoding(name=name, pat_str=self.pattern, mergeable_ranks=self.mergeable_ranks(),
                                 special_tokens=self.special_tokens, explicit_n_vocab=self.vocab_size)

    def to_meta(self):
        return {"tokenizer": self.kind, "vocab_size": self.vocab_size, "pattern": self.pattern,
                "special_tokens": self.special_tokens, "merges": [list(pair) for pair in self.merges]}

    @classmethod
    def from_meta(cls, meta):
        return cls(meta["merges"], meta.get("special_tokens", {}), meta.get("pattern", GPT2_PATTERN))

    def __getstate__(self):  # pickles small (DataLoader / datasets.map workers); compiled regex is rebuilt
        return self.to_meta()

    def __setstate__(self, meta):
        self.__init__(meta["merges"], meta["special_tokens"], meta["pattern"])
