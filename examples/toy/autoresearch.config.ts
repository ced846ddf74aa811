import { defineResearch } from "@autoresearch/core"

export default defineResearch({
  name: "toy",
  mutable: ["train.py"],
  immutable: ["prepare.py"],
  program: "program.md",
  phases: {
    prepare: ["prepare.py"],
    train: ["train.py"],
    predict: ["prepare.py", "predict"],
    score: ["prepare.py", "score"]
  },
  metric: { name: "val_mse", direction: "min", minDelta: 0.0001, secondary: ["mean_mse"] },
  budget: { experimentSeconds: 20, graceSeconds: 5, maxExperiments: 5 }
})
