"""REST-channel benchmark: our assistant versus a stock `rasa init` one (run by hand, not in the tests).

Usage, from the repository root:

    PYTHONPATH=. .venv/bin/python -m bench.rest_benchmark [--rounds 3] [--concurrency 10 50]
        [--stock-dir DIR] [--only ours|stock]

It measures, one assistant after the other (stock first, then ours), messages per second and p50/p95
latency of POST /webhooks/rest/webhook at each concurrency, plus the resident memory of each server
process (VmRSS summed over the process and its children). Results go to stdout and to
bench/results/rest_<timestamp>.md and .json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import aiohttp

from tests.support.redis_server import delete_prefix, start_redis
from tests.support.stack import ROOT, VENV_BIN, Stack, free_port, wait_http

RESULTS_DIR = ROOT / "bench" / "results"
WEBHOOK = "/webhooks/rest/webhook"
REQUEST_TIMEOUT_S = 120.0

OURS_CONVERSATIONS: Dict[str, List[str]] = {
    "en": [
        "hi",
        "what are your opening hours?",
        "My parcel never arrived, order ZZ123456, I want a refund",
        "call me on +852 9123 4567",
    ],
    "zh-Hans": ["你好", "退款一般多久到账？", "我的洗衣机坏了，订单AC12345678，我要换货", "13812345678"],
    "zh-Hant": ["你好", "你哋幾點開門？", "我張信用卡帳單多收咗錢，戶口AC87654321，我要退款", "9123 4567"],
}
STOCK_CONVERSATIONS: Dict[str, List[str]] = {
    "en": ["hi", "I am feeling great", "are you a bot?", "goodbye"],
}


@dataclass
class RunResult:
    """One load run: an assistant at one concurrency."""

    assistant: str
    concurrency: int
    rounds: int
    requests: int = 0
    errors: int = 0
    empty_replies: int = 0
    elapsed_s: float = 0.0
    load_before: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    latencies_ms: List[float] = field(default_factory=list)
    error_samples: List[str] = field(default_factory=list)

    @property
    def msg_per_s(self) -> float:
        """Successful (HTTP 200) requests per wall-clock second."""
        return (self.requests - self.errors) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def record_error(self, message: str) -> None:
        """Count one failed request and keep a few distinct samples."""
        self.errors += 1
        if len(self.error_samples) < 10 and message not in self.error_samples:
            self.error_samples.append(message)


@dataclass
class MemoryRow:
    """RSS of one server process (and its children) at rest and after the heaviest run."""

    process: str
    pid: int
    after_start_mb: float = 0.0
    at_rest_mb: float = 0.0
    after_max_mb: float = 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def children_map() -> Dict[int, List[int]]:
    """Parent pid -> child pids, read from /proc/*/stat."""
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> List[int]:
    """The pid and all its descendants."""
    children = children_map()
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_kb(pid: int) -> int:
    """VmRSS of one process in kB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(pid: int) -> float:
    """VmRSS summed over a process and its descendants, in MB (MiB)."""
    return sum(rss_kb(member) for member in process_tree(pid)) / 1024.0


def post_json(url: str, sender: str, message: str) -> Tuple[int, str]:
    """One blocking POST to the REST webhook; (status, body text), status 0 on exceptions."""
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, f"{type(error).__name__}: {error}"


def warm_up(base_url: str, conversations: Dict[str, List[str]], label: str) -> int:
    """Run each conversation once, sequentially, before measuring; return the failures."""
    failures = 0
    for language, messages in conversations.items():
        sender = f"warmup-{label}-{language}-{uuid.uuid4().hex[:8]}"
        for message in messages:
            status, text = post_json(base_url + WEBHOOK, sender, message)
            if status != 200:
                failures += 1
                print(f"  warm-up {label}/{language} {message!r}: HTTP {status} {text[:200]}", flush=True)
    return failures


async def converse(
    session: aiohttp.ClientSession, url: str, sender: str, messages: List[str], result: RunResult
) -> None:
    """Send one conversation message by message, waiting for each reply, recording latencies."""
    for message in messages:
        result.requests += 1
        started = time.perf_counter()
        try:
            async with session.post(url, json={"sender": sender, "message": message}) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            result.record_error(f"{type(error).__name__}: {error}")
            continue
        latency_ms = (time.perf_counter() - started) * 1000.0
        if status != 200:
            result.record_error(f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
            continue
        result.latencies_ms.append(latency_ms)
        try:
            replies = json.loads(body)
        except ValueError:
            result.record_error(f"HTTP 200 with a body that is not JSON: {body[:200]!r}")
            continue
        if not replies:
            result.empty_replies += 1


async def client(
    session: aiohttp.ClientSession, url: str, index: int, run_id: str, conversations: List[List[str]],
    result: RunResult,
) -> None:
    """One simulated customer: its conversation once per round, with a fresh sender id each round."""
    messages = conversations[index % len(conversations)]
    for round_number in range(result.rounds):
        await converse(session, url, f"bench-{run_id}-c{index}-r{round_number}", messages, result)


async def load(base_url: str, conversations: List[List[str]], result: RunResult) -> None:
    """Run result.concurrency clients at once and time the whole run."""
    run_id = uuid.uuid4().hex[:8]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(
            *(client(session, base_url + WEBHOOK, index, run_id, conversations, result)
              for index in range(result.concurrency))
        )
        result.elapsed_s = time.perf_counter() - started


def measure(
    assistant: str, base_url: str, conversations: Dict[str, List[str]], concurrency: int, rounds: int
) -> RunResult:
    """One measured run, with the load average printed so a busy machine is visible."""
    result = RunResult(assistant=assistant, concurrency=concurrency, rounds=rounds)
    result.load_before = os.getloadavg()
    print(f"  {assistant} c={concurrency} rounds={rounds} (load average before: "
          f"{' '.join(f'{value:.2f}' for value in result.load_before)})", flush=True)
    if warning := busy_warning():
        print(f"    {warning}", flush=True)
    asyncio.run(load(base_url, list(conversations.values()), result))
    print(f"    {result.requests} requests, {result.errors} errors, {result.msg_per_s:.1f} msg/s, "
          f"p50 {percentile(result.latencies_ms, 50):.0f} ms, p95 {percentile(result.latencies_ms, 95):.0f} ms",
          flush=True)
    return result


def newest_model(directory: Path) -> str:
    """File name of the model `rasa run -m models` loads (the newest), or none."""
    models = sorted((directory / "models").glob("*.tar.gz"), key=lambda path: path.stat().st_mtime)
    return models[-1].name if models else "none"


def busy_warning() -> Optional[str]:
    """A warning when the 1-minute load average says the machine is not idle."""
    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    if load > 0.5 * cpus:
        return f"WARNING: 1-minute load average {load:.2f} on {cpus} CPU(s): the machine is not idle."
    return None


def stock_environment() -> Dict[str, str]:
    """Environment for the stock rasa commands: no telemetry, quiet TensorFlow."""
    env = dict(os.environ)
    env.update(RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPATH", None)
    return env


def ensure_stock(directory: Optional[Path]) -> Path:
    """A stock `rasa init` project with a trained model: reused when present, else created."""
    target = directory if directory is not None else Path(tempfile.mkdtemp(prefix="rasa-stock-"))
    target = target.resolve()
    if list((target / "models").glob("*.tar.gz")):
        print(f"Reusing the stock assistant in {target}", flush=True)
        return target
    target.mkdir(parents=True, exist_ok=True)
    print(f"Creating the stock assistant with `rasa init --no-prompt` in {target} (trains, 1-2 min)", flush=True)
    log = target / "init.log"
    with log.open("wb") as output:
        completed = subprocess.run(
            [str(VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(target)],
            cwd=target, env=stock_environment(), stdout=output, stderr=subprocess.STDOUT, check=False,
        )
    if completed.returncode != 0 or not list((target / "models").glob("*.tar.gz")):
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"rasa init failed (exit {completed.returncode}); log tail:\n{tail}")
    return target


def start_stock(directory: Path, log: Path) -> Tuple[subprocess.Popen, str]:
    """`rasa run --port P` in the stock project (in-memory tracker store, no action server)."""
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [str(VENV_BIN / "rasa"), "run", "--port", str(port)],
        cwd=directory, env=stock_environment(), stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base_url}/", 300, process)
    except BaseException:
        stop_process(process)
        raise
    return process, base_url


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a server, killing it if it does not exit in time."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def settle() -> None:
    """Give the servers a moment to finish background work before reading memory."""
    time.sleep(2.0)


def benchmark_servers(
    assistant: str, base_url: str, conversations: Dict[str, List[str]], memory: List[MemoryRow],
    concurrencies: List[int], rounds: int,
) -> List[RunResult]:
    """Warm up, read RSS at rest, run every concurrency, read RSS after the heaviest run."""
    for row in memory:
        row.after_start_mb = tree_rss_mb(row.pid)
    failures = warm_up(base_url, conversations, assistant)
    print(f"  warm-up for {assistant}: {failures} failed request(s)", flush=True)
    settle()
    for row in memory:
        row.at_rest_mb = tree_rss_mb(row.pid)
    results = []
    for concurrency in concurrencies:
        results.append(measure(assistant, base_url, conversations, concurrency, rounds))
        if concurrency == max(concurrencies):
            settle()
            for row in memory:
                row.after_max_mb = tree_rss_mb(row.pid)
    return results


def run_stock(
    stock_dir: Optional[Path], log_dir: Path, concurrencies: List[int], rounds: int
) -> Tuple[List[RunResult], List[MemoryRow], Path]:
    """Create or reuse the stock project, serve it, benchmark it, stop it."""
    directory = ensure_stock(stock_dir)
    print("Starting the stock Rasa server", flush=True)
    process, base_url = start_stock(directory, log_dir / "stock" / "rasa.log")
    memory = [MemoryRow(process="stock rasa server", pid=process.pid)]
    try:
        results = benchmark_servers("stock", base_url, STOCK_CONVERSATIONS, memory, concurrencies, rounds)
    finally:
        stop_process(process)
    return results, memory, directory


def run_ours(log_dir: Path, concurrencies: List[int], rounds: int) -> Tuple[List[RunResult], List[MemoryRow], str]:
    """Start our stack on a real Redis with a unique prefix, benchmark it, stop it, delete its keys."""
    redis_url, embedded = start_redis()
    prefix = "bench" + uuid.uuid4().hex[:10]
    print(f"Starting our stack (Redis {redis_url}, key prefix {prefix})", flush=True)
    stack = Stack(redis_url=redis_url, prefix=prefix)
    try:
        stack.start(log_dir / "ours")
        actions, rasa = stack.processes
        memory = [MemoryRow(process="ours rasa server", pid=rasa.pid),
                  MemoryRow(process="ours action server", pid=actions.pid)]
        embedded_process = getattr(embedded, "_process", None)
        if embedded_process is not None:
            memory.append(MemoryRow(process="ours redis (embedded valkey)", pid=embedded_process.pid))
        results = benchmark_servers("ours", stack.base_url, OURS_CONVERSATIONS, memory, concurrencies, rounds)
    finally:
        stack.stop()
        delete_prefix(redis_url, prefix)
        if embedded is not None:
            embedded.stop()  # type: ignore[attr-defined]
    return results, memory, redis_url


def fmt(value: float, digits: int = 1) -> str:
    """A number for a table, or n/a."""
    return "n/a" if value != value else f"{value:.{digits}f}"


def finite(value: float) -> Optional[float]:
    """The value, or None for NaN (JSON has no NaN)."""
    return None if value != value else value


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when undefined."""
    if denominator == 0 or denominator != denominator or numerator != numerator:
        return float("nan")
    return numerator / denominator


def throughput_table(results: List[RunResult]) -> List[str]:
    """Markdown rows: assistant, concurrency, requests, errors, msg/s, p50, p95."""
    lines = ["| assistant | concurrency | requests | errors | msg/s | p50 ms | p95 ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for result in results:
        lines.append(
            f"| {result.assistant} | {result.concurrency} | {result.requests} | {result.errors} | "
            f"{fmt(result.msg_per_s)} | {fmt(percentile(result.latencies_ms, 50), 0)} | "
            f"{fmt(percentile(result.latencies_ms, 95), 0)} |"
        )
    return lines


def memory_table(memory: List[MemoryRow], heaviest: int) -> List[str]:
    """Markdown rows: process, RSS at rest, RSS after the heaviest run."""
    lines = [f"| process | RSS at rest MB | RSS after {heaviest}-concurrent MB |", "|---|---:|---:|"]
    for row in memory:
        lines.append(f"| {row.process} | {fmt(row.at_rest_mb)} | {fmt(row.after_max_mb)} |")
    return lines


def ratio_table(results: List[RunResult]) -> List[str]:
    """Markdown rows: ours/stock for msg/s and p95 at each concurrency measured for both."""
    by_key = {(result.assistant, result.concurrency): result for result in results}
    lines = ["| concurrency | msg/s ours/stock | p95 ours/stock |", "|---:|---:|---:|"]
    for concurrency in sorted({result.concurrency for result in results}):
        ours, stock = by_key.get(("ours", concurrency)), by_key.get(("stock", concurrency))
        if ours is None or stock is None:
            continue
        lines.append(
            f"| {concurrency} | {fmt(ratio(ours.msg_per_s, stock.msg_per_s), 2)} | "
            f"{fmt(ratio(percentile(ours.latencies_ms, 95), percentile(stock.latencies_ms, 95)), 2)} |"
        )
    return lines


def error_lines(results: List[RunResult]) -> Iterator[str]:
    """Every run's error count and a few samples; empty replies too."""
    for result in results:
        if result.errors or result.empty_replies:
            yield (f"- {result.assistant} c={result.concurrency}: {result.errors} error(s), "
                   f"{result.empty_replies} HTTP 200 response(s) with no bot message")
            for sample in result.error_samples:
                yield f"    - {sample}"


def rasa_version() -> str:
    """The installed Rasa version."""
    try:
        from rasa.version import __version__

        return str(__version__)
    except ImportError:
        return "unknown"


def report(header: List[str], results: List[RunResult], memory: List[MemoryRow],
           heaviest: int) -> str:
    """The whole markdown report."""
    lines = [*header, "", "## Throughput and latency", "", *throughput_table(results),
             "", "## Resident memory (VmRSS, process + children)", "", *memory_table(memory, heaviest)]
    ratios = ratio_table(results)
    if len(ratios) > 2:
        lines += ["", "## Ratios ours/stock", "", *ratios]
    errors = list(error_lines(results))
    total_errors = sum(result.errors for result in results)
    lines += ["", f"## Errors: {total_errors}", ""]
    lines += errors or ["- none"]
    return "\n".join(lines) + "\n"


def header_lines(command: str, order: List[str], concurrencies: List[int], rounds: int, log_dir: Path) -> List[str]:
    """Title, command, machine and method notes."""
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"# REST benchmark {time.strftime('%Y-%m-%d %H:%M:%S')}",
        "",
        f"Command: `{command}`",
        "",
        f"- Machine: {os.cpu_count()} CPU(s), {platform.platform()}, Python {platform.python_version()}, "
        f"Rasa {rasa_version()}; load average at start: {load}",
        f"- Order: {' then '.join(order)}, each at concurrency {', '.join(map(str, concurrencies))}; "
        "one assistant runs at a time.",
        f"- Each of N concurrent clients runs its 4-message conversation {rounds} time(s), a fresh sender id "
        "per round, waiting for each reply; ours mixes en / zh-Hans / zh-Hant across clients.",
        "- msg/s = HTTP 200 responses per wall-clock second; latencies are of HTTP 200 responses only; errors "
        "= non-200 responses and exceptions.",
        "- RSS at rest = after start-up and a sequential warm-up of every conversation, then 2 s idle; "
        "MB = VmRSS kB / 1024.",
        "- The load generator runs on the same machine and shares its CPUs with the servers.",
        f"- Server logs: {log_dir}",
        *([f"- {warning}"] if (warning := busy_warning()) else []),
    ]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="conversations per client (default 3)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50], help="default: 10 50")
    parser.add_argument("--stock-dir", type=Path, default=None,
                        help="stock `rasa init` project to reuse or create (default: a new /tmp dir)")
    parser.add_argument("--only", choices=["ours", "stock"], default=None, help="benchmark just one assistant")
    return parser.parse_args(argv)


def exact_command() -> str:
    """The command line as it was typed, for the report."""
    python = os.path.relpath(sys.executable, Path.cwd()) if sys.executable else "python"
    return "PYTHONPATH=. " + shlex.join([python, "-m", "bench.rest_benchmark", *sys.argv[1:]])


def save(text: str, data: Dict[str, object], stamp: str) -> Tuple[Path, Path]:
    """Write the markdown and JSON results under bench/results/."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    markdown, raw = RESULTS_DIR / f"rest_{stamp}.md", RESULTS_DIR / f"rest_{stamp}.json"
    markdown.write_text(text, encoding="utf-8")
    raw.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return markdown, raw


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; exit 1 when any request failed."""
    args = parse_args(argv)
    concurrencies = sorted(set(args.concurrency))
    command = exact_command()
    order = [name for name in ("stock", "ours") if args.only in (None, name)]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_dir = Path(tempfile.mkdtemp(prefix=f"rest-bench-logs-{stamp}-"))
    print(command, flush=True)
    print(f"Order: {' then '.join(order)}; concurrency {concurrencies}; rounds {args.rounds}; logs in {log_dir}",
          flush=True)
    header = header_lines(command, order, concurrencies, args.rounds, log_dir)
    if warning := busy_warning():
        print(warning, flush=True)
    results: List[RunResult] = []
    memory: List[MemoryRow] = []
    extra: Dict[str, object] = {}
    if "stock" in order:
        stock_results, stock_memory, stock_dir = run_stock(args.stock_dir, log_dir, concurrencies, args.rounds)
        results += stock_results
        memory += stock_memory
        extra["stock_dir"] = str(stock_dir)
        extra["stock_model"] = newest_model(stock_dir)
        header.append(f"- Stock: `rasa init` project in {stock_dir}, model {extra['stock_model']}, "
                      "in-memory tracker store, no action server.")
        print(f"Stock project kept in {stock_dir} (reuse it with --stock-dir {stock_dir})", flush=True)
    if "ours" in order:
        extra["ours_model"] = newest_model(ROOT)
        ours_results, ours_memory, redis_url = run_ours(log_dir, concurrencies, args.rounds)
        results += ours_results
        memory += ours_memory
        extra["redis_url"] = redis_url
        header.append(f"- Ours: model {extra['ours_model']}, Redis tracker + lock store at {redis_url}, "
                      "action server running.")
    text = report(header, results, memory, max(concurrencies))
    data: Dict[str, object] = {
        "command": command, "order": order, "concurrency": concurrencies, "rounds": args.rounds,
        "cpus": os.cpu_count(), "rasa": rasa_version(), **extra,
        "runs": [{**asdict(result), "msg_per_s": result.msg_per_s,
                  "p50_ms": finite(percentile(result.latencies_ms, 50)),
                  "p95_ms": finite(percentile(result.latencies_ms, 95))}
                 for result in results],
        "memory_mb": [asdict(row) for row in memory],
    }
    markdown, raw = save(text, data, stamp)
    print()
    print(text)
    print(f"Saved {markdown.relative_to(ROOT)} and {raw.relative_to(ROOT)}")
    return 1 if any(result.errors for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
