"""A DeepScan batch of 10 URLs against 10 single calls, at the same client concurrency, in one run.

Starts an image server and `qrscan serve` (cache off, so every image is decoded) on 127.0.0.1,
then, for each concurrency, alternates two workloads for ROUNDS rounds of SECONDS each:

- singles: each client sends `{"url": ...}` ten times in a row, one image per request;
- batch:   each client sends one `{"urls": [ten URLs]}` request.

One unit is ten images read either way. Prints units per second and the latency of a unit
(p50, p90) for both, and the ratio. Images are generated (segno) at about 1000 x 1000 pixels, a
phone photo's resolution class after resizing, so decoding dominates.

    python3 benches/batch.py [--bin target/release/qrscan] [--seconds 5] [--rounds 2] [--concurrency 1 4]

Needs segno (`pip install segno`; tests/clients/run.sh leaves a venv with it in target/clients-venv).
"""
import argparse
import http.client
import http.server
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import segno


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def images(folder, count):
    names = []
    for i in range(count):
        out = io.BytesIO()
        text = f"https://cli.im/batch-bench/{i}/" + "x" * 120
        segno.make(text, error="h").save(out, kind="png", scale=14, border=6)
        name = f"{i}.png"
        with open(os.path.join(folder, name), "wb") as f:
            f.write(out.getvalue())
        names.append(name)
    return names


def serve_images(folder):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=folder, **k)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    # The default listen backlog (5) drops the SYNs of a batch's ten simultaneous fetches, which
    # then wait a second for the retransmission: a cost of this image server, not of qrscan.
    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 128

    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def post(connection, body):
    connection.request("POST", "/x-deepscan/vision/detect", body=body,
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    if response.status != 200:
        raise SystemExit(f"qrscan answered {response.status}: {answer}")
    return answer


def client(port, urls, batch, stop, latencies, errors):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        started = time.perf_counter()
        if batch:
            answer = post(connection, json.dumps({"urls": urls}))
            read = sum(item.get("count", 0) for item in answer["results"])
        else:
            read = sum(post(connection, json.dumps({"url": url}))["count"] for url in urls)
        if read != len(urls):
            errors.append(read)
        latencies.append(time.perf_counter() - started)


def workload(port, urls, batch, concurrency, seconds):
    stop = threading.Event()
    latencies, errors = [], []
    threads = [threading.Thread(target=client, args=(port, urls, batch, stop, latencies, errors))
               for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"some units read fewer than {len(urls)} codes: {errors[:5]}")
    return latencies, elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.environ.get("QRSCAN_BIN", "target/release/qrscan"))
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    folder = tempfile.mkdtemp()
    names = images(folder, 10)
    image_server = serve_images(folder)
    image_port = image_server.server_address[1]
    urls = [f"http://127.0.0.1:{image_port}/{name}" for name in names]
    port = free_port()
    command = [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--allow-loopback",
               "--cache-entries", "0"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        print(f"qrscan {args.bin}, {os.cpu_count()} CPUs, 10 images of "
              f"{os.path.getsize(os.path.join(folder, names[0]))} bytes, cache off")
        for concurrency in args.concurrency:
            runs = {False: [], True: []}
            for _ in range(args.rounds):
                for batch in (False, True):
                    runs[batch].append(workload(port, urls, batch, concurrency, args.seconds))
            rates = {}
            for batch, results in runs.items():
                latencies = [l for lat, _ in results for l in lat]
                units = len(latencies) / sum(elapsed for _, elapsed in results)
                rates[batch] = units
                q = statistics.quantiles(latencies, n=10) if len(latencies) > 1 else latencies * 9
                name = "batch of 10 URLs " if batch else "10 single calls  "
                print(f"  concurrency {concurrency}: {name} {units:6.2f} units/s "
                      f"({units * 10:6.1f} images/s), unit p50 {statistics.median(latencies) * 1000:7.1f} ms, "
                      f"p90 {q[8] * 1000:7.1f} ms, {len(latencies)} units")
            print(f"  concurrency {concurrency}: batch / singles throughput = {rates[True] / rates[False]:.2f}")
    finally:
        server.terminate()
        server.wait()
        image_server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
