"""The PyTorch half of examples/from-pytorch.mjs: train a small wave classifier in PyTorch and save
its state_dict as safetensors, with a held-out set and PyTorch's own logits on it.

    python3 examples/pytorch_classifier.py [OUT_DIR]     (default: examples/data)

writes OUT_DIR/pytorch-classifier.safetensors (the state_dict: lstm.weight_ih_l0, ..., fc.bias)
and OUT_DIR/pytorch-classifier.json (held-out inputs, labels, PyTorch's logits and accuracy).
Needs torch (any 1.x or 2.x, CPU). Uses the `safetensors` package when installed; otherwise it
writes the same format itself (an 8-byte header length, a JSON header, raw little-endian F32).
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn

T, CLASSES = 32, ['sine', 'square', 'sawtooth']


class WaveClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=16, batch_first=True)
        self.fc = nn.Linear(16, len(CLASSES))

    def forward(self, x):  # x [B, T, 1] -> logits [B, 3]
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])  # the last step of every sequence


def waves(n, g):
    """n noisy waves (cycling through the classes) of random frequency and phase: x [n, T, 1], y [n]."""
    y = torch.arange(n) % len(CLASSES)
    freq = 0.05 + 0.1 * torch.rand(n, 1, generator=g)
    phase = torch.rand(n, 1, generator=g)
    p = (freq * torch.arange(T) + phase) % 1  # position within the cycle, [n, T]
    shapes = torch.stack([torch.sin(2 * math.pi * p), torch.where(p < 0.5, 1.0, -1.0), 2 * p - 1])
    x = shapes[y, torch.arange(n)] + 0.2 * (torch.rand(n, T, generator=g) - 0.5)
    return x.unsqueeze(-1), y


def save_safetensors(tensors, path):
    try:
        from safetensors.torch import save_file
        return save_file(tensors, path)
    except ImportError:
        pass
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().astype('<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)  # pad the header to 8 bytes, as safetensors does
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'data')
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x, y = waves(600, g)
    x_test, y_test = waves(60, g)
    x_test = x_test.mul(1e4).round().div(1e4)  # 4 decimals, so the JSON holds the exact inputs

    model = WaveClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(15):
        for i in torch.randperm(len(x), generator=g).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i]), y[i]).backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    model.eval()
    with torch.no_grad():
        logits = model(x_test)
    accuracy = (logits.argmax(1) == y_test).float().mean().item()

    save_safetensors(model.state_dict(), os.path.join(out_dir, 'pytorch-classifier.safetensors'))
    with open(os.path.join(out_dir, 'pytorch-classifier.json'), 'w') as f:
        json.dump({
            'torch': torch.__version__, 'classes': CLASSES, 'accuracy': accuracy,
            'x': x_test.squeeze(-1).tolist(), 'y': y_test.tolist(), 'logits': logits.tolist(),
        }, f)
    print(f'PyTorch {torch.__version__}: held-out accuracy {accuracy:.3f}; wrote {out_dir}/pytorch-classifier.*')


if __name__ == '__main__':
    main()
