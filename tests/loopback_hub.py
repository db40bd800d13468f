"""A loopback Hugging Face Hub: the course's online path run for real, with no Internet.

A small HTTP server on 127.0.0.1 answering the URL shapes that ``huggingface_hub``,
``transformers``, ``datasets`` and ``sentence-transformers`` use (repo info, tree and
paths-info, ``HEAD``/``GET`` of ``resolve`` URLs with ``ETag``, ``X-Repo-Commit`` and
ranges, the Hub's error codes, and its redirects from legacy one-segment ids), serving repos
shaped like the real ones:

* ``distilbert/distilbert-base-uncased`` (legacy id ``distilbert-base-uncased``): a
  ``DistilBertForMaskedLM`` checkpoint, weights prefixed ``distilbert.`` plus the MLM head
  (``vocab_transform``, ``vocab_layer_norm``, ``vocab_projector``), with DistilBERT's config
  and tokenizer files and no sentence-transformers files. Its encoder weights are real
  pretrained ones: the bundled all-MiniLM-L6-v2 in DistilBERT layout
  (:mod:`course_utils.core.distilbert_layout`); the MLM head is a seeded random initialisation;
* ``cornell-movie-review-data/rotten_tomatoes`` (legacy id ``rotten_tomatoes``): the three
  splits as parquet files with the Hub's features and a dataset card, built from the real
  Rotten Tomatoes files given to :func:`build_repos` (never stored in the repository);
* ``openai-community/gpt2`` (``gpt2``) and ``Qwen/Qwen2.5-0.5B-Instruct``: tiny random
  decoders of those architectures with byte-level BPE tokenizers in the real repos' files
  (Qwen's with a chat template), so that the notebooks' generation cells run.

Every request is recorded as an endpoint *shape* (``HEAD /{repo}/resolve/{rev}/{file}``);
:data:`KNOWN_SHAPES` is what the libraries are expected to call, and a request that matches
none is answered 404 and recorded, so a library upgrade that calls a new endpoint fails a test
loudly. ``python tests/loopback_hub.py DATA_DIR PORT_FILE`` serves until killed (the online
course run, ``tests/online_course.py``).
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

KNOWN_SHAPES = {
    "GET /api/agent-harnesses",  # huggingface_hub's user-agent registry (answered empty)
    "GET /api/{kind}s/{repo}",
    "GET /api/{kind}s/{repo}/revision/{rev}",
    "GET /api/{kind}s/{repo}/tree/{rev}",
    "GET /api/{kind}s/{repo}/tree/{rev}/{path}",
    "POST /api/{kind}s/{repo}/paths-info/{rev}",
    "HEAD /{repo}/resolve/{rev}/{file}",
    "GET /{repo}/resolve/{rev}/{file}",
    "HEAD /datasets/{repo}/resolve/{rev}/{file}",
    "GET /datasets/{repo}/resolve/{rev}/{file}",
}
LEGACY_IDS = {
    ("model", "distilbert-base-uncased"): "distilbert/distilbert-base-uncased",
    ("model", "gpt2"): "openai-community/gpt2",
    ("dataset", "rotten_tomatoes"): "cornell-movie-review-data/rotten_tomatoes",
}
LAST_MODIFIED = "2024-02-19T10:00:00.000Z"


@dataclass
class Repo:
    """One repo: ``kind`` is ``model`` or ``dataset``; ``files`` maps paths to contents."""

    kind: str
    repo_id: str
    files: dict[str, bytes]
    card_data: dict = field(default_factory=dict)

    @property
    def sha(self) -> str:
        """A 40-hex commit id that changes with the contents."""
        digest = hashlib.sha1(self.repo_id.encode())
        for name in sorted(self.files):
            digest.update(name.encode() + hashlib.sha256(self.files[name]).digest())
        return digest.hexdigest()

    def entry(self, path: str) -> dict | None:
        """The tree entry of a file or folder, as the Hub's tree and paths-info list it."""
        if path in self.files:
            data = self.files[path]
            item = {"type": "file", "path": path, "size": len(data),
                    "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}  # fmt: skip
            if len(data) > 100_000:  # stored with LFS on the Hub
                item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                               "pointerSize": 134}  # fmt: skip
            return item
        if any(name.startswith(path.rstrip("/") + "/") for name in self.files) or path == "":
            return {"type": "directory", "path": path, "size": 0,
                    "oid": hashlib.sha1(path.encode()).hexdigest()}  # fmt: skip
        return None

    def children(self, folder: str, recursive: bool) -> list[dict]:
        """Tree entries under ``folder`` (``""``: the root)."""
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        seen: dict[str, dict] = {}
        for name in sorted(self.files):
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix) :].split("/")
            for depth in range(1, len(parts) + 1 if recursive else 2):
                path = prefix + "/".join(parts[:depth])
                seen.setdefault(path, self.entry(path))
        return list(seen.values())

    def info(self) -> dict:
        """What ``/api/{kind}s/{repo}`` answers (the fields the libraries read)."""
        owner = self.repo_id.split("/")[0]
        body = {"_id": hashlib.md5(self.repo_id.encode()).hexdigest()[:24], "id": self.repo_id,
                "author": owner, "sha": self.sha, "lastModified": LAST_MODIFIED,
                "createdAt": LAST_MODIFIED, "private": False, "gated": False, "disabled": False,
                "downloads": 0, "likes": 0, "tags": [], "cardData": self.card_data,
                "siblings": [{"rfilename": name} for name in sorted(self.files)]}  # fmt: skip
        if self.kind == "model":
            body.update(modelId=self.repo_id, library_name="transformers")
            config = self.files.get("config.json")
            if config:
                body["config"] = {"model_type": json.loads(config).get("model_type")}
        return body


class LoopbackHub:
    """The server: ``with LoopbackHub(repos) as hub: os.environ["HF_ENDPOINT"] = hub.url``."""

    def __init__(self, repos: list[Repo], port: int = 0) -> None:
        self.repos = {(r.kind, r.repo_id): r for r in repos}
        self.calls: list[tuple[str, str, int]] = []  # (method, shape, status)
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                hub._handle(self, "HEAD")

            def do_GET(self) -> None:  # noqa: N802
                hub._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                hub._handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LoopbackHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def shapes(self) -> set[str]:
        """The endpoint shapes called so far."""
        with self._lock:
            return {shape for _, shape, _ in self.calls}

    def unknown_calls(self) -> list[str]:
        """Requests that matched no shape the libraries were expected to call."""
        with self._lock:
            return [shape for _, shape, _ in self.calls if shape not in KNOWN_SHAPES]

    # -- routing ---------------------------------------------------------------------------
    def _record(self, method: str, shape: str, status: int) -> None:
        with self._lock:
            self.calls.append((method, f"{method} {shape}", status))

    def _find(self, kind: str, parts: list[str]) -> tuple[str, Repo | None, str | None, int]:
        """Split ``parts`` into a repo id and the rest: (id, repo, legacy target, length)."""
        for length in (2, 1):
            repo_id = "/".join(parts[:length])
            if (kind, repo_id) in self.repos:
                return repo_id, self.repos[(kind, repo_id)], None, length
            if (kind, repo_id) in LEGACY_IDS:
                return repo_id, None, LEGACY_IDS[(kind, repo_id)], length
        return "/".join(parts[:2]), None, None, min(2, len(parts))

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(req.path)
        parts = [unquote(p) for p in split.path.strip("/").split("/")]
        query = parse_qs(split.query)
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        if parts == ["api", "agent-harnesses"]:
            registry = {"standardEnvVars": [], "harnesses": {}}
            self._json(req, method, "/api/agent-harnesses", registry)
        elif parts[0] == "api" and len(parts) >= 3 and parts[1] in ("models", "datasets"):
            self._api(req, method, parts[1][:-1], parts[2:], query, body)
        elif len(parts) >= 4 and parts[0] == "datasets":
            self._resolve(req, method, "dataset", parts[1:], "/datasets")
        else:
            self._resolve(req, method, "model", parts, "")

    def _api(self, req, method, kind, parts, query, body) -> None:  # noqa: ANN001
        repo_id, repo, legacy, n = self._find(kind, parts)
        rest = parts[n:]
        shape = "/api/{kind}s/{repo}" + "".join(
            part for part, present in (("/" + rest[0] if rest else "", rest),
                                       ("/{rev}", len(rest) > 1), ("/{path}", len(rest) > 2))
            if present
        )  # fmt: skip
        if legacy:
            self._record(method, shape, 307)
            target = f"/api/{kind}s/{legacy}/" + "/".join(rest)
            raw_query = urlsplit(req.path).query
            location = target.rstrip("/") + (f"?{raw_query}" if raw_query else "")
            return self._send(req, 307, b"", {"Location": location})
        if repo is None:
            self._record(method, shape, 404)
            return self._error(req, 404, "RepoNotFound", f"Repository {repo_id} not found")
        if method == "GET" and not rest:
            return self._json(req, method, shape, repo.info())
        if len(rest) < 2 or rest[0] not in ("revision", "tree", "paths-info"):
            self._record(method, shape, 404)
            return self._error(req, 404, "EntryNotFound", f"unknown endpoint {req.path}")
        if rest[1] not in ("main", repo.sha):
            self._record(method, shape, 404)
            return self._error(req, 404, "RevisionNotFound", f"Invalid rev id: {rest[1]}")
        if rest[0] == "revision" and method == "GET":
            return self._json(req, method, shape, repo.info())
        if rest[0] == "tree" and method == "GET":
            folder = "/".join(rest[2:])
            if folder and (repo.entry(folder) or {}).get("type") != "directory":
                self._record(method, shape, 404)
                return self._error(req, 404, "EntryNotFound", f"{folder} does not exist")
            recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
            return self._json(req, method, shape, repo.children(folder, recursive))
        if rest[0] == "paths-info" and method == "POST":
            form = parse_qs(body.decode())
            if not form and body.startswith(b"{"):
                form = {"paths": json.loads(body).get("paths", [])}
            entries = [repo.entry(p) for p in form.get("paths", [])]
            return self._json(req, method, shape, [e for e in entries if e])
        self._record(method, shape, 405)
        return self._error(req, 405, "MethodNotAllowed", f"{method} {req.path}")

    def _resolve(self, req, method, kind, parts, prefix) -> None:  # noqa: ANN001
        repo_id, repo, legacy, n = self._find(kind, parts)
        rest = parts[n:]
        if len(rest) < 3 or rest[0] != "resolve":
            self._record(method, "/" + "/".join(parts), 404)
            return self._error(req, 404, "EntryNotFound", f"unknown endpoint {req.path}")
        shape = f"{prefix}/{{repo}}/resolve/{{rev}}/{{file}}"
        if legacy:
            self._record(method, shape, 307)
            target = f"{prefix}/{legacy}/" + "/".join(rest)
            return self._send(req, 307, b"", {"Location": target})
        if repo is None:
            self._record(method, shape, 404)
            return self._error(req, 404, "RepoNotFound", f"Repository {repo_id} not found")
        rev, path = rest[1], "/".join(rest[2:])
        if rev not in ("main", repo.sha):
            self._record(method, shape, 404)
            return self._error(req, 404, "RevisionNotFound", f"Invalid rev id: {rev}")
        if path not in repo.files:
            self._record(method, shape, 404)
            return self._error(req, 404, "EntryNotFound", f"{path} does not exist on {rev}")
        data = repo.files[path]
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                   "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream",
                   "Last-Modified": formatdate(usegmt=True)}  # fmt: skip
        status, payload = 200, data
        ranged = req.headers.get("Range", "")
        if ranged.startswith("bytes="):
            first, _, last = ranged[6:].partition("-")
            start = int(first) if first else max(0, len(data) - int(last))
            end = int(last) if first and last else len(data) - 1
            end = min(end, len(data) - 1)
            if start >= len(data):
                self._record(method, shape, 416)
                return self._send(req, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
            status, payload = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self._record(method, shape, status)
        self._send(req, status, payload if method == "GET" else b"", headers,
                   length=len(payload))  # fmt: skip

    # -- responses -------------------------------------------------------------------------
    def _json(self, req, method, shape, obj) -> None:  # noqa: ANN001
        self._record(method, shape, 200)
        data = json.dumps(obj).encode()
        self._send(req, 200, data, {"Content-Type": "application/json"})

    def _error(self, req, status, code, message) -> None:  # noqa: ANN001
        data = json.dumps({"error": message}).encode()
        self._send(req, status, data, {"X-Error-Code": code, "X-Error-Message": message,
                                       "Content-Type": "application/json"})  # fmt: skip

    @staticmethod
    def _send(req, status, data, headers, length=None) -> None:  # noqa: ANN001
        req.send_response(status)
        for key, value in headers.items():
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(data) if length is None else length))
        req.end_headers()
        if data and req.command != "HEAD":
            req.wfile.write(data)


# -- the repos ---------------------------------------------------------------------------------
def _safetensors(state: dict) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in state.items()}, metadata={"format": "pt"})


def distilbert_repo() -> Repo:
    """``distilbert/distilbert-base-uncased`` shaped like the real one (module docstring)."""
    import torch
    from safetensors.torch import load_file

    from course_utils.core.distilbert_layout import distilbert_layout_path

    folder = distilbert_layout_path()
    encoder = load_file(str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    dim, vocab = config["dim"], config["vocab_size"]
    gen = torch.Generator().manual_seed(0)
    state = {f"distilbert.{k}": v for k, v in encoder.items()}
    state.update({
        "vocab_transform.weight": torch.randn(dim, dim, generator=gen) * 0.02,
        "vocab_transform.bias": torch.zeros(dim),
        "vocab_layer_norm.weight": torch.ones(dim),
        "vocab_layer_norm.bias": torch.zeros(dim),
        "vocab_projector.bias": torch.zeros(vocab),
    })  # fmt: skip
    config.pop("converted_from", None)
    config.update(architectures=["DistilBertForMaskedLM"], tie_weights_=True,
                  transformers_version="4.10.0.dev0")  # fmt: skip
    files = {
        "config.json": json.dumps(config, indent=2).encode(),
        "model.safetensors": _safetensors(state),
        "tokenizer_config.json": b'{"do_lower_case": true, "model_max_length": 512}',
        "vocab.txt": (folder / "vocab.txt").read_bytes(),
        "tokenizer.json": (folder / "tokenizer.json").read_bytes(),
        "README.md": b"---\nlicense: apache-2.0\nlanguage: en\n---\n# DistilBERT base uncased "
        b"(loopback test repo: all-MiniLM-L6-v2's weights in DistilBERT layout)\n",
        ".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n",
    }
    return Repo("model", "distilbert/distilbert-base-uncased", files)


def rotten_tomatoes_repo(data_dir: str | Path) -> Repo:
    """``cornell-movie-review-data/rotten_tomatoes``: parquet splits and the dataset card."""
    from course_utils.core.data import load_from_folder

    splits = load_from_folder(data_dir)
    files: dict[str, bytes] = {}
    for name, split in splits.items():
        buffer = io.BytesIO()
        split.to_parquet(buffer)
        files[f"{name}.parquet"] = buffer.getvalue()
    card = {
        "language": ["en"], "license": ["unknown"], "task_categories": ["text-classification"],
        "pretty_name": "Rotten Tomatoes",
        "dataset_info": {
            "features": [{"name": "text", "dtype": "string"},
                         {"name": "label", "dtype": {"class_label": {"names": {"0": "neg",
                                                                               "1": "pos"}}}}],
            "splits": [{"name": n, "num_examples": len(s), "num_bytes": s.data.nbytes}
                       for n, s in splits.items()],
        },
        "configs": [{"config_name": "default",
                     "data_files": [{"split": n, "path": f"{n}.parquet"} for n in splits]}],
    }  # fmt: skip
    import yaml

    readme = f"---\n{yaml.safe_dump(card, sort_keys=False)}---\n# Rotten Tomatoes (loopback)\n"
    files["README.md"] = readme.encode()
    files[".gitattributes"] = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    return Repo("dataset", "cornell-movie-review-data/rotten_tomatoes", files, card)


QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _bpe_files(texts: list[str], specials: list[str], **config: object) -> dict[str, bytes]:
    """A byte-level BPE tokenizer in the files GPT-2 and Qwen repos hold."""
    import tempfile

    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=800, min_frequency=2, special_tokens=specials,
                            show_progress=False)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        bpe.save_model(tmp)
        fast = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, **config)
        fast.save_pretrained(tmp)
        names = ("vocab.json", "merges.txt", "tokenizer.json")
        files = {name: (Path(tmp) / name).read_bytes() for name in names}
        # as the real repos hold it: the chat template inside tokenizer_config.json
        tok_config = json.loads((Path(tmp) / "tokenizer_config.json").read_text())
        template = Path(tmp) / "chat_template.jinja"
        if template.is_file():
            tok_config["chat_template"] = template.read_text()
        files["tokenizer_config.json"] = json.dumps(tok_config, indent=2).encode()
        return files


def _decoder_files(config, texts: list[str], specials: list[str], **tok) -> dict[str, bytes]:  # noqa: ANN001
    import torch
    from transformers import AutoModelForCausalLM

    files = _bpe_files(texts, specials, **tok)
    vocab = len(json.loads(files["vocab.json"]))
    config.vocab_size = vocab
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    files["model.safetensors"] = _safetensors(state)
    files["config.json"] = config.to_json_string().encode()
    files["generation_config.json"] = json.dumps(
        {"bos_token_id": config.bos_token_id, "eos_token_id": config.eos_token_id}
    ).encode()
    return files


def gpt2_repo(texts: list[str]) -> Repo:
    """A tiny random ``openai-community/gpt2`` (2 layers, 64 dims) with a BPE tokenizer."""
    from transformers import GPT2Config

    config = GPT2Config(n_layer=2, n_head=4, n_embd=64, n_positions=256, bos_token_id=0,
                        eos_token_id=0, architectures=["GPT2LMHeadModel"])  # fmt: skip
    eot = "<|endoftext|>"
    files = _decoder_files(config, texts, [eot], bos_token=eot, eos_token=eot, unk_token=eot,
                           model_max_length=256)  # fmt: skip
    return Repo("model", "openai-community/gpt2", files)


def qwen_repo(texts: list[str]) -> Repo:
    """A tiny random ``Qwen/Qwen2.5-0.5B-Instruct`` with a chat template."""
    from transformers import Qwen2Config

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    config = Qwen2Config(num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         hidden_size=64, intermediate_size=128, max_position_embeddings=512,
                         bos_token_id=0, eos_token_id=2, tie_word_embeddings=True,
                         architectures=["Qwen2ForCausalLM"])  # fmt: skip
    files = _decoder_files(config, texts, specials, eos_token="<|im_end|>",
                           pad_token="<|endoftext|>", chat_template=QWEN_CHAT_TEMPLATE,
                           model_max_length=512)  # fmt: skip
    return Repo("model", "Qwen/Qwen2.5-0.5B-Instruct", files)


def build_repos(data_dir: str | Path) -> list[Repo]:
    """Every repo the course's online path downloads, from the real data in ``data_dir``."""
    from course_utils.core.data import NEG_FILE, POS_FILE, read_sentences

    texts = read_sentences(Path(data_dir) / POS_FILE) + read_sentences(Path(data_dir) / NEG_FILE)
    return [distilbert_repo(), rotten_tomatoes_repo(data_dir), gpt2_repo(texts), qwen_repo(texts)]


def main(argv: list[str]) -> int:
    """``loopback_hub.py DATA_DIR PORT_FILE [CALLS_FILE]``: serve until killed; the URL is
    written to PORT_FILE once serving, each call appended to CALLS_FILE as it comes."""
    data_dir, port_file = argv[0], Path(argv[1])
    calls_file = Path(argv[2]) if len(argv) > 2 else None
    with LoopbackHub(build_repos(data_dir)) as hub:
        port_file.write_text(hub.url)
        print(f"loopback Hub at {hub.url}", flush=True)
        seen = 0
        while True:
            threading.Event().wait(1.0)
            if calls_file is not None and len(hub.calls) > seen:
                with calls_file.open("a") as out:
                    for method, shape, status in hub.calls[seen:]:
                        out.write(json.dumps({"method": method, "shape": shape,
                                              "status": status}) + "\n")  # fmt: skip
                seen = len(hub.calls)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
