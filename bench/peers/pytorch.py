# PyTorch as a benchmark peer: nn.LSTM / nn.GRU in fp32, bf16 and dynamic int8, driven by
# bench/peers/pytorch.mjs over stdin/stdout (one JSON object a line each way).
#
#   -> {"cmd": "load", "weights": FILE, "w": workload, "precision": "fp32"|"bf16"|"int8", "threads": n}
#   <- {"warmMs": ms}                      (builds the module, runs it once)
#   -> {"cmd": "output", "file": FILE}     (runs once, writes the output as raw float32, T*B*D*H)
#   -> {"cmd": "slice", "ms": ms, "capMs": cap}
#   <- {"times": [ms, ...]}                (timed here, around the forward call only)
#   -> {"cmd": "exit"}
# Every reply may instead be {"error": message}. The first line written is
#   {"ready": true, "torch": version, ...} describing the build.
#
# Weights and input come in a safetensors file written by the bench (our names are PyTorch's:
# weight_ih_l0, ..., plus "x" [T, B, I]); read with the standard library so no safetensors package
# is needed.
#
# Precisions (inference, no autograd: torch.inference_mode):
#   fp32  the module as loaded.
#   bf16  module and input converted with .to(torch.bfloat16): weights stored in bf16 (as in our
#         bf16 format), and nn.LSTM on a bf16 CPU tensor runs oneDNN's bf16 LSTM (bf16 GEMMs with
#         fp32 accumulation). torch.autocast('cpu') is the other way; it keeps fp32 weights and
#         casts them at every call, a cost a bf16 deployment does not pay, and measured slower for
#         the same error (torch 2.13, 2 threads, Zen 5: M 7.3 vs 12.5 ms, XL 10.7 vs 11.9 ms, max
#         abs error vs fp32 1.7e-3 both), so we use .to().
#   int8  torch.ao.quantization.quantize_dynamic(..., {nn.LSTM, nn.GRU}, dtype=torch.qint8):
#         int8 weights per tensor, activations quantized dynamically, on the default quantized
#         engine (reported as "qengine").
import array
import json
import struct
import sys
import time
import warnings

import torch
import torch.nn as nn

DTYPES = {"F32": torch.float32}
# torch 2.10+ deprecates torch.ao.quantization and quantized tensors for torchao; the eager API
# still runs (and is what a user of dynamic int8 LSTMs has): keep its warnings out of the table.
warnings.filterwarnings("ignore", message=".*(torch.ao.quantization|quantize_per_tensor)")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        buf = bytearray(data[base + a : base + b])
        out[name] = torch.frombuffer(buf, dtype=DTYPES[t["dtype"]]).reshape(t["shape"]) if b > a else torch.zeros(t["shape"])
    return out


def build(w, precision, tensors):
    cls = nn.GRU if w.get("cell") == "gru" else nn.LSTM
    m = cls(w["I"], w["H"], num_layers=w.get("layers", 1), bidirectional=bool(w.get("bidir")))
    m.load_state_dict({k: v for k, v in tensors.items() if k != "x"}, strict=True)
    m.eval()
    x = tensors["x"].contiguous()
    if precision == "bf16":
        m = m.to(torch.bfloat16)
        x = x.to(torch.bfloat16)
    elif precision == "int8":
        # quantize_dynamic swaps submodules only (a bare nn.LSTM passed in comes back unchanged,
        # still fp32): hold it in a container, and refuse to time anything not swapped.
        holder = torch.ao.quantization.quantize_dynamic(nn.ModuleDict({"rnn": m}), {nn.LSTM, nn.GRU}, dtype=torch.qint8)
        m = holder["rnn"]
        if ".quantized." not in type(m).__module__:
            raise RuntimeError(f"quantize_dynamic left {type(m).__module__}.{type(m).__name__} unquantized")
    elif precision != "fp32":
        raise ValueError(f"unknown precision {precision!r}")
    return m, x


def forward(m, x):
    with torch.inference_mode():
        return m(x)[0]


def describe():
    d = {"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}
    d["mkldnn"] = bool(torch.backends.mkldnn.is_available())
    d["qengine"] = torch.backends.quantized.engine
    try:
        d["cpuCapability"] = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # torch < 2.0
        d["cpuCapability"] = None
    return d


def main():
    torch.set_num_interop_threads(1)
    reply = lambda obj: (sys.stdout.write(json.dumps(obj) + "\n"), sys.stdout.flush())
    reply(describe())
    m = x = None
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["cmd"] == "load":
                torch.set_num_threads(req["threads"])
                m, x = build(req["w"], req["precision"], read_safetensors(req["weights"]))
                t0 = time.perf_counter()
                forward(m, x)
                reply({"warmMs": 1000 * (time.perf_counter() - t0), "module": f"{type(m).__module__}.{type(m).__name__}"})
            elif req["cmd"] == "output":
                y = forward(m, x).float().contiguous()
                with open(req["file"], "wb") as f:
                    f.write(array.array("f", y.flatten().tolist()).tobytes())
                reply({})
            elif req["cmd"] == "slice":
                times = []
                end = time.perf_counter() + req["ms"] / 1000
                while True:
                    t0 = time.perf_counter()
                    forward(m, x)
                    dt = 1000 * (time.perf_counter() - t0)
                    times.append(dt)
                    if dt > req["capMs"] or time.perf_counter() >= end:
                        break
                reply({"times": times})
            elif req["cmd"] == "exit":
                break
            else:
                reply({"error": f"unknown command {req['cmd']!r}"})
        except Exception as e:  # reported to the bench as a failed row
            reply({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
