"""
Toy research task for autoresearch: fit a noisy 1-D curve. Standard library only.

This file is IMMUTABLE during research: it owns the data, the prediction entry point
and the evaluation. The loop runs it three ways:

    python3 prepare.py            build the data cache in $AUTORESEARCH_CACHE_DIR
    python3 prepare.py predict    write predictions for the validation inputs
    python3 prepare.py score      compare predictions with the hidden targets (trusted)
"""
import json
import math
import os
import random
import sys

# ---------------------------------------------------------------------------
# Constants (fixed: changing them changes the task)

N_TRAIN = 400
N_VAL = 200
N_TEST = 200
NOISE = 0.1
X_RANGE = 2.0


def target(x):
    return math.sin(3.0 * x) + 0.5 * x * x


# ---------------------------------------------------------------------------
# Data cache: train/ (seen by train.py), inputs/ (seen by predict), hidden/ (scorer only),
# and test/ laid out like the cache (test/inputs, test/hidden), which only verify reads.

def prepare(cache_dir, seed):
    rng = random.Random(seed)
    xs = [rng.uniform(-X_RANGE, X_RANGE) for _ in range(N_TRAIN + N_VAL)]
    ys = [target(x) + rng.gauss(0.0, NOISE) for x in xs]
    # Drawn after the others, so that training and validation are what they were before the test split.
    test_xs = [rng.uniform(-X_RANGE, X_RANGE) for _ in range(N_TEST)]
    xs += test_xs
    ys += [target(x) + rng.gauss(0.0, NOISE) for x in test_xs]
    train_y = ys[:N_TRAIN]
    write(os.path.join(cache_dir, "train", "data.json"), {"x": xs[:N_TRAIN], "y": train_y})
    # The training mean is the baseline a model must beat; the scorer reads it beside the targets.
    mean = sum(train_y) / len(train_y)
    splits = {"": (N_TRAIN, N_TRAIN + N_VAL), "test": (N_TRAIN + N_VAL, N_TRAIN + N_VAL + N_TEST)}
    for split, (start, end) in splits.items():
        write(os.path.join(cache_dir, split, "inputs", "x.json"), xs[start:end])
        write(os.path.join(cache_dir, split, "hidden", "y.json"), ys[start:end])
        write(os.path.join(cache_dir, split, "hidden", "train_mean.json"), mean)
    print(f"wrote {N_TRAIN} training, {N_VAL} validation and {N_TEST} test points to {cache_dir}")


def write(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f)


def read(path):
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# The model format train.py saves: a polynomial in x / scale.

def evaluate(model, x):
    u = x / model["scale"]
    return sum(w * u ** k for k, w in enumerate(model["weights"]))


def predict(run_dir, inputs_dir):
    model = read(os.path.join(run_dir, "model.json"))
    xs = read(os.path.join(inputs_dir, "x.json"))
    write(os.path.join(run_dir, "predictions.json"), [evaluate(model, x) for x in xs])


# ---------------------------------------------------------------------------
# Evaluation: mean squared error against the hidden targets, and the baseline of
# always predicting the training mean, which a real model must beat.

def score(run_dir, cache_dir):
    predictions = read(os.path.join(run_dir, "predictions.json"))
    targets = read(os.path.join(cache_dir, "hidden", "y.json"))
    if len(predictions) != len(targets):
        return {"status": "invalid", "reason": f"{len(predictions)} predictions for {len(targets)} targets", "metrics": {}}
    if not all(isinstance(p, (int, float)) and math.isfinite(p) for p in predictions):
        return {"status": "invalid", "reason": "non-finite predictions", "metrics": {}}
    mse = sum((p - t) ** 2 for p, t in zip(predictions, targets)) / len(targets)
    mean = read(os.path.join(cache_dir, "hidden", "train_mean.json"))
    baseline = sum((mean - t) ** 2 for t in targets) / len(targets)
    return {"metrics": {"val_mse": mse, "mean_mse": baseline}, "gate": {"name": "mean", "value": baseline}}


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "prepare"
    if command == "prepare":
        prepare(os.environ["AUTORESEARCH_CACHE_DIR"], int(os.environ.get("AUTORESEARCH_SEED", "0")))
    elif command == "predict":
        predict(os.environ["AUTORESEARCH_RUN_DIR"], os.environ["AUTORESEARCH_INPUTS_DIR"])
    elif command == "score":
        print(json.dumps(score(os.environ["AUTORESEARCH_RUN_DIR"], os.environ["AUTORESEARCH_CACHE_DIR"])))
    else:
        sys.exit(f"unknown command {command!r}: use prepare, predict or score")
