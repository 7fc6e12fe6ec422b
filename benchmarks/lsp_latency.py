"""Time from `textDocument/didChange` to the published diagnostics of that version, through `perflint server`.

    python benchmarks/lsp_latency.py [--large PATH] [--edits 20]

Each edit appends a comment line (a new version of the whole document); the time is taken from sending the
change to receiving `publishDiagnostics` for that version (debounce included). Small file: the reference
trainer's `train.py`; large file: any real file of 5,000+ lines given with --large (the README's figure used
transformers 4.46.3 `transformers/trainer.py`, 5,062 lines: `pip download --no-deps transformers==4.46.3`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "fixtures" / "PFL101" / "seed_validate_no_grad.py"
MEDIUM = ROOT / "reference_trainer" / "train.py"


class Client(LanguageClient):
    """A client that wakes a waiter when diagnostics of a given document version arrive."""

    def __init__(self) -> None:
        super().__init__("latency-bench", "1")
        self.arrived: dict[int, asyncio.Event] = {}

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(params: types.PublishDiagnosticsParams) -> None:
            event = self.arrived.get(params.version or 0)
            if event is not None:
                event.set()


async def _latencies(text: str, edits: int) -> list[float]:
    client = Client()
    await client.start_io(sys.executable, "-m", "perflint", "server", cwd=str(ROOT))
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    client.initialized(types.InitializedParams())
    with tempfile.TemporaryDirectory() as folder:
        uri = (Path(folder) / "document.py").as_uri()
        client.arrived[1] = asyncio.Event()
        client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "python", 1, text)))
        await asyncio.wait_for(client.arrived[1].wait(), timeout=600)
        timings = []
        for version in range(2, edits + 2):
            text += f"# edit {version}\n"
            client.arrived[version] = asyncio.Event()
            started = time.perf_counter()
            change = types.TextDocumentContentChangeWholeDocument(text)
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version=version, uri=uri), [change])
            )
            await asyncio.wait_for(client.arrived[version].wait(), timeout=600)
            timings.append(time.perf_counter() - started)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", type=Path, help="a real Python file of 5,000+ lines")
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()
    files = [SMALL, MEDIUM, *([args.large] if args.large else [])]
    print(f"{'file':<40} {'lines':>6} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for path in files:
        text = path.read_text(encoding="utf-8")
        timings = asyncio.run(_latencies(text, args.edits))
        ms = [t * 1000 for t in timings]
        print(f"{path.name:<40} {text.count(chr(10)):>6} {statistics.median(ms):>10.1f} {min(ms):>8.1f} {max(ms):>8.1f}")


if __name__ == "__main__":
    main()
