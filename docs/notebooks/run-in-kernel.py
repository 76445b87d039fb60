#!/usr/bin/env python3
"""Runs the code cells of a notebook in the real .NET Interactive kernel, in order, as Polyglot would.

Usage, from this folder (the kernel starts here, so the notebook's relative paths resolve):
    dotnet tool install -g Microsoft.dotnet-interactive --version 1.0.712001
    dotnet build -c Release        # at the repository root, first
    python3 run-in-kernel.py [quickstart.ipynb]

Prints each cell's result and the caption of every HTML table the cells displayed; exits 1 at the first failed cell.
"""
import json, os, queue, re, shutil, subprocess, sys, threading, time

notebook = sys.argv[1] if len(sys.argv) > 1 else "quickstart.ipynb"
cells = ["".join(c["source"]) for c in json.load(open(notebook))["cells"] if c["cell_type"] == "code"]
tool = shutil.which("dotnet-interactive") or os.path.expanduser("~/.dotnet/tools/dotnet-interactive")  # global tools' folder
kernel = subprocess.Popen([tool, "stdio", "--default-kernel", "csharp"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                          env={**os.environ, "DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT": "1"})
lines = queue.Queue()
threading.Thread(target=lambda: [lines.put(l) for l in kernel.stdout], daemon=True).start()

tables, failed, start = [], False, time.time()
for n, code in enumerate(cells, 1):
    token = f"cell{n}"
    kernel.stdin.write(json.dumps({"token": token, "commandType": "SubmitCode",
                                   "command": {"code": code, "targetKernelName": "csharp"}}) + "\n")
    kernel.stdin.flush()
    began = time.time()
    while True:
        try:
            envelope = json.loads(lines.get(timeout=900))
        except json.JSONDecodeError:
            continue  # the kernel's banner
        kind, event = envelope.get("eventType"), envelope.get("event", {})
        for value in event.get("formattedValues", []):
            if value.get("mimeType") == "text/html":
                tables += re.findall(r"<caption>(.*?)</caption>", value["value"])
        if kind in ("CommandSucceeded", "CommandFailed") and (envelope.get("command") or {}).get("token", "").startswith(token):
            print(f"cell {n}: {kind} in {time.time() - began:.1f} s {event.get('message', '')}")
            failed = kind == "CommandFailed"
            break
    if failed:
        break
kernel.kill()
print(f"{time.time() - start:.0f} s; {len(tables)} tables:")
for caption in tables:
    print("  " + caption)
sys.exit(1 if failed else 0)
