"""
Toy training script: fits a polynomial to the training points by gradient descent.
This is the file the research loop edits. Run it through autoresearch, or by hand:

    AUTORESEARCH_DATA_DIR=... AUTORESEARCH_RUN_DIR=... python3 train.py

It reads the training split, trains within the time budget, and saves model.json
(the format prepare.py's predict entry reads) into the run directory.
"""
import json
import os
import random
import time

DEGREE = 5          # @knob int 1..12
LEARNING_RATE = 0.1  # @knob log 1e-4..1
STEPS = 1500         # @knob int 50..3000
L2 = 0.0            # @knob log 1e-6..1e-1
SCALE = 2.0         # inputs are divided by this before the powers are taken

# ---------------------------------------------------------------------------
# Data

DATA_DIR = os.environ["AUTORESEARCH_DATA_DIR"]
RUN_DIR = os.environ["AUTORESEARCH_RUN_DIR"]
BUDGET = float(os.environ.get("AUTORESEARCH_BUDGET_SECONDS", "60"))
random.seed(int(os.environ.get("AUTORESEARCH_SEED", "0")))

with open(os.path.join(DATA_DIR, "data.json")) as f:
    data = json.load(f)
features = [[(x / SCALE) ** k for k in range(DEGREE + 1)] for x in data["x"]]
targets = data["y"]

# ---------------------------------------------------------------------------
# Training loop: full-batch gradient descent, stopped by the step count or the budget

weights = [0.0] * (DEGREE + 1)
start = time.time()
n = len(targets)
for step in range(STEPS):
    grad = [0.0] * len(weights)
    for row, y in zip(features, targets):
        error = sum(w * v for w, v in zip(weights, row)) - y
        for k, v in enumerate(row):
            grad[k] += 2.0 * error * v / n
    weights = [w - LEARNING_RATE * (g + 2.0 * L2 * w) for w, g in zip(weights, grad)]
    if time.time() - start > BUDGET:
        break

train_mse = summ((sum(w * v for w, v in zip(weights, row)) - y) ** 2 for row, y in zip(features, targets)) / n

# ---------------------------------------------------------------------------
# Report and save

with open(os.path.join(RUN_DIR, "model.json"), "w") as f:
    json.dump({"weights": weights, "scale": SCALE}, f)
print(f"steps: {step + 1}")
print(f"train_mse: {train_mse:.6f}")
print(f"training_seconds: {time.time() - start:.2f}")
