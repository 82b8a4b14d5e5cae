"""Our tokenizer against the Hugging Face `tokenizers` library, id for id.

Byte-level BPE: HF tokenizers are built here (nothing is downloaded) from the
SmolLM2 GGUF's vocabulary and merges with each pre-tokenizer family's
pipeline -- smollm (Digits + ByteLevel), gpt2 (ByteLevel), llama3 (Split
regex + ByteLevel, ignore_merges) and qwen2 (NFC + Split regex + ByteLevel)
-- and saved as tokenizer.json. For every corpus line we compare HF's ids
with ours read (a) from the GGUF itself (smollm) and (b) from each
tokenizer.json, and check that our decode equals HF's decode and gives the
text back (NFC-normalized for qwen2).

SentencePiece-style BPE: a small BPE with byte fallback is trained here on
the corpus, then run as Llama 2 (Prepend + Replace normalizer) and with
Metaspace pre-tokenizers; same comparisons. The same vocabulary is also
written as a Llama-2-style GGUF (scores, no merges) and compared with HF's
rendering of such a vocabulary (every two-piece split a merge, ranked by score).

Chat templates: our rendering against jinja2's rendering of the template
text (SmolLM2's own, from the GGUF; ChatML with an escaped default system
message; Llama 3; Llama 3.1 style; Llama 2), for several conversations.

Usage: tokenizer_vs_hf.py --rma build/bin/rma [--gguf path/to/SmolLM2.gguf]
Exit 77 (skipped) when the GGUF is absent; 1 on any mismatch.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import unicodedata

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))

GPT2_REGEX = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_REGEX = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"""
                r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")

# Chat templates rendered by jinja2 as transformers does. SmolLM2's comes
# from the GGUF; these are the other families' templates as their models ship
# them (Llama 3.1's reduced to its tool-free path).
CHATML_ESCAPED = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message.role == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}\n")
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}")
LLAMA31 = (
    "{{- bos_token }}\n"
    "{%- if not date_string is defined %}\n"
    "    {%- set date_string = \"26 Jul 2024\" %}\n"
    "{%- endif %}\n"
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content']|trim %}\n"
    "    {%- set messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set system_message = \"\" %}\n"
    "{%- endif %}\n"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
    "{{- system_message }}\n"
    "{{- \"<|eot_id|>\" }}\n"
    "{%- for message in messages %}\n"
    "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
    "+ message['content'] | trim + '<|eot_id|>' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}\n"
    "{%- endif %}\n")
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}"
    "{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}")

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "  Be brief.\n"}, {"role": "user", "content": "Hi there \n"}],
    [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": " 4 "},
     {"role": "user", "content": "Und auf Deutsch? 🙂"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "a\n\nb"},
     {"role": "assistant", "content": "c"}, {"role": "user", "content": "\t世界\u3000"}],
]


def random_lines(count, seed=1234):
    """Strings drawn from the characters the split rules care about (spaces of
    several kinds, line breaks, letters of several scripts, digits, marks,
    apostrophes, punctuation, emoji, special-token text), so the hand-written
    matchers meet combinations the corpus does not spell out."""
    import random
    rng = random.Random(seed)
    pool = (list(" " * 12) + list("\t\n\r") + ["\r\n", "\u00a0", "\u3000", "\u2028", "\u0085"] +
            list("abcXYZ") + ["hello", "World", " the", "ing"] + list("éßøДж中日한ا") +
            list("0123456789") + ["١", "½", "²"] + ["\u0301", "\u0308", "\u200d"] +
            ["'", "'s", "'S", "'ll", "'ve", "'re", "'d", "'m", "'t", "'ſ"] +
            list(".,;:!?-_()[]{}<>/\\\"#$%&*+=@^`|~") + ["🙂", "👍🏽", "👨‍👩‍👧"] +
            ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im", "<s>", "</s>", "<unk>"])
    return ["".join(rng.choice(pool) for _ in range(rng.randint(1, 40))) for _ in range(count)]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rma", required=True, help="the rma binary")
    p.add_argument("--gguf", help="SmolLM2 GGUF (its vocabulary and merges); default: the "
                   "model cache's ($RM_CACHE_DIR/models, ~/.cache/rm_abstract/models)",
                   default=os.path.join(
                       os.environ.get("RM_CACHE_DIR", os.path.expanduser("~/.cache/rm_abstract")),
                       "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--corpus", default=os.path.join(HERE, "tokenizer_corpus.json"))
    return p.parse_args()


def run_rma(rma, args, stdin_file=None):
    out = subprocess.run([rma, "tokenize", *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"FAIL: rma tokenize {' '.join(args)} exited {out.returncode}: "
                 f"{out.stderr.strip()}")
    return json.loads(out.stdout)


def gguf_vocab(path):
    import gguf
    reader = gguf.GGUFReader(path)

    def strings(key):
        field = reader.fields[key]
        return [bytes(field.parts[i]).decode("utf-8") for i in field.data]

    types_field = reader.fields["tokenizer.ggml.token_type"]
    types = [int(types_field.parts[i][0]) for i in types_field.data]
    template_field = reader.fields.get("tokenizer.chat_template")
    template = bytes(template_field.parts[-1]).decode() if template_field else ""
    return strings("tokenizer.ggml.tokens"), strings("tokenizer.ggml.merges"), types, template


def byte_level_tokenizers(tokens, merges, types):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers as pre

    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ")) for m in merges]
    specials = [AddedToken(t, special=True, normalized=False)
                for t, kind in zip(tokens, types) if kind == 3]

    def build(pre_tokenizer, normalizer=None, ignore_merges=False):
        # With ignore_merges, drop some merges: their tokens stay reachable
        # only as whole words, which is what ignore_merges changes.
        kept = [p for i, p in enumerate(pairs) if not ignore_merges or i % 5 != 2]
        tok = Tokenizer(models.BPE(vocab, kept, ignore_merges=ignore_merges))
        tok.pre_tokenizer = pre_tokenizer
        if normalizer:
            tok.normalizer = normalizer
        tok.decoder = decoders.ByteLevel()
        tok.add_special_tokens(specials)
        return tok

    def split_then_bytes(regex):
        return pre.Sequence([pre.Split(Regex(regex), behavior="isolated", invert=False),
                             pre.ByteLevel(add_prefix_space=False, use_regex=False)])

    return {
        "smollm": build(pre.Sequence([pre.Digits(individual_digits=True),
                                      pre.ByteLevel(add_prefix_space=False, use_regex=True)])),
        "gpt2": build(pre.ByteLevel(add_prefix_space=False, use_regex=True)),
        "llama3": build(split_then_bytes(LLAMA3_REGEX), ignore_merges=True),
        "qwen2": build(split_then_bytes(QWEN2_REGEX), normalizers.NFC()),
    }


def sentencepiece_tokenizers(corpus):
    """A small BPE with byte fallback trained on the corpus, in three pipelines."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, trainers
    from tokenizers import pre_tokenizers as pre

    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    trainer_tok.pre_tokenizer = pre.Metaspace(replacement="\u2581", prepend_scheme="always",
                                              split=True)
    trainer = trainers.BpeTrainer(vocab_size=700, limit_alphabet=120, min_frequency=2,
                                  special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    trainer_tok.train_from_iterator(corpus * 3, trainer=trainer)
    model = json.loads(trainer_tok.to_str())["model"]
    # Llama 2's layout: <unk> <s> </s>, the 256 byte tokens, then the rest.
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for text, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1]):
        if text not in vocab:
            vocab[text] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]

    def build(pre_tokenizer, normalizer):
        tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True,
                                   fuse_unk=True))
        tok.normalizer = normalizer
        tok.pre_tokenizer = pre_tokenizer
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
        tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                                for t in ("<unk>", "<s>", "</s>")])
        return tok

    legacy = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                   normalizers.Replace(" ", "\u2581")])
    tokenizers = {
        "spm-llama2": build(None, legacy),
        "spm-metaspace-first": build(pre.Metaspace("\u2581", "first", split=False), None),
        "spm-metaspace-always-split": build(pre.Metaspace("\u2581", "always", split=True), None),
    }
    return tokenizers, vocab


def sentencepiece_gguf(vocab, path):
    """The trained vocabulary as a Llama-2-style GGUF: scores instead of merges
    (a piece's score falls with its id), byte and control token types. Its HF
    twin is what HF's Llama converter makes of such a vocabulary: every split
    of a piece into two pieces is a merge, ranked by the piece's score."""
    import gguf
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers

    tokens = sorted(vocab, key=vocab.get)
    types = [2, 3, 3] + [6] * 256 + [1] * (len(tokens) - 259)
    scores = [0.0] * 259 + [-float(i) for i in range(259, len(tokens))]
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    merges = []
    for piece in tokens[259:]:
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if vocab.get(left, 0) >= 259 and vocab.get(right, 0) >= 259:
                merges.append((vocab[piece], vocab[left], vocab[right], left, right))
    merges = [(left, right) for *_, left, right in sorted(merges)]
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True,
                               fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                           normalizers.Replace(" ", "\u2581")])
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ("<unk>", "<s>", "</s>")])
    return tok


def save(tok, folder, config):
    os.makedirs(folder, exist_ok=True)
    tok.save(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False)
    return os.path.join(folder, "tokenizer.json")


def render_jinja(template, messages, bos, eos, add_generation_prompt):
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(messages=messages, bos_token=bos, eos_token=eos,
                                            add_generation_prompt=add_generation_prompt)


def main():
    args = parse_args()
    if not os.path.exists(args.gguf):
        print(f"SKIP: the SmolLM2 GGUF {args.gguf} is absent (scripts/fetch_model.sh fetches it)")
        return SKIP
    with open(args.corpus, encoding="utf-8") as f:
        corpus = json.load(f)
    corpus += random_lines(300)
    tokens, merges, types, smollm_template = gguf_vocab(args.gguf)

    failures = []
    compared = 0
    with tempfile.TemporaryDirectory(prefix="rma-tok-") as tmp:
        corpus_file = os.path.join(tmp, "corpus.json")
        with open(corpus_file, "w", encoding="utf-8") as f:
            json.dump(corpus, f, ensure_ascii=False)

        # family -> (HF tokenizer, what we read, what decode must give back)
        cases = []
        for family, tok in byte_level_tokenizers(tokens, merges, types).items():
            path = save(tok, os.path.join(tmp, family),
                        {"bos_token": None, "eos_token": "<|im_end|>", "add_bos_token": False})
            back = (lambda s: unicodedata.normalize("NFC", s)) if family == "qwen2" else None
            cases.append((family + " (tokenizer.json)", tok, path, back))
            if family == "smollm":
                cases.append(("smollm (GGUF)", tok, args.gguf, None))
        spm, spm_vocab = sentencepiece_tokenizers(corpus)
        spm_gguf = os.path.join(tmp, "spm.gguf")
        cases.append(("spm-llama2 (GGUF, scores)", sentencepiece_gguf(spm_vocab, spm_gguf),
                      spm_gguf, lambda s: None if any(t in s for t in ("<s>", "</s>", "<unk>"))
                      else s))
        for family, tok in spm.items():
            path = save(tok, os.path.join(tmp, family),
                        {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                         "add_bos_token": False})
            # Llama 2's pipeline is lossless but for the "▁" it puts after each special
            # token; Metaspace drops a leading space it did not add.
            back = False if family != "spm-llama2" else (
                lambda s: None if any(t in s for t in ("<s>", "</s>", "<unk>")) else s)
            cases.append((family + " (tokenizer.json)", tok, path, back))

        for name, tok, path, back in cases:
            ours = run_rma(args.rma, ["-m", path, "--json", "--no-bos-eos", "-f", corpus_file])
            ids_file = os.path.join(tmp, "ids.json")
            with open(ids_file, "w") as f:
                json.dump(ours, f)
            decoded = run_rma(args.rma, ["-m", path, "--json", "--decode", "-f", ids_file])
            for line, got, text in zip(corpus, ours, decoded):
                compared += 1
                want = tok.encode(line, add_special_tokens=False).ids
                if got != want:
                    failures.append(f"{name}: encode {line!r}\n    HF:   {want}\n    ours: {got}")
                want_text = tok.decode(want, skip_special_tokens=False)
                if text != want_text:
                    failures.append(f"{name}: decode {line!r}\n    HF:   {want_text!r}\n"
                                    f"    ours: {text!r}")
                expected = line if back is None else None if back is False else back(line)
                if expected is not None and text != expected:
                    failures.append(f"{name}: decode(encode(x)) != x for {line!r}: {text!r}")
            if len(ours) != len(corpus):
                failures.append(f"{name}: {len(ours)} results for {len(corpus)} lines")

        # Chat templates.
        chat_cases = [("SmolLM2 (GGUF)", smollm_template, "<|im_start|>", "<|im_end|>"),
                      ("ChatML, escaped default", CHATML_ESCAPED, "<|im_start|>", "<|im_end|>"),
                      ("Llama 3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>"),
                      ("Llama 3.1", LLAMA31, "<|begin_of_text|>", "<|eot_id|>"),
                      ("Llama 2", LLAMA2, "<s>", "</s>")]
        conv_file = os.path.join(tmp, "conversations.json")
        with open(conv_file, "w", encoding="utf-8") as f:
            json.dump(CONVERSATIONS, f, ensure_ascii=False)
        chats = 0
        from tokenizers import AddedToken
        for index, (name, template, bos, eos) in enumerate(chat_cases):
            tok = byte_level_tokenizers(tokens, merges, types)["gpt2"]
            tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                                    for t in (bos, eos, "<|start_header_id|>",
                                              "<|end_header_id|>")])
            path = save(tok, os.path.join(tmp, f"chat{index}"),
                        {"bos_token": bos, "eos_token": eos, "chat_template": template})
            for generation in (True, False):
                flags = [] if generation else ["--no-generation-prompt"]
                ours = run_rma(args.rma, ["-m", path, "--chat", conv_file, *flags])
                for conv, got in zip(CONVERSATIONS, ours):
                    chats += 1
                    want = render_jinja(template, conv, bos, eos, generation)
                    if got != want:
                        failures.append(f"chat {name} (generation prompt {generation}) "
                                        f"{conv!r}\n    jinja2: {want!r}\n    ours:   {got!r}")

    families = len(cases)
    print(f"tokenizer_vs_hf: {len(corpus)} lines x {families} tokenizers = {compared} encodes "
          f"(+ decodes) compared, {chats} chat renders compared, {len(failures)} mismatches")
    for failure in failures[:8]:
        print("  " + failure)
    if failures:
        print(f"FAIL: {len(failures)} mismatches")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
