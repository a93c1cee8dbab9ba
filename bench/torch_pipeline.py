#!/usr/bin/env python3
"""PyTorch's pipeline on an ImageFolder directory, timed end to end: torchvision's
ImageFolder (PIL decode, Resize(256), CenterCrop(224), ToTensor, Normalize), a DataLoader
with one worker process per core, torchvision's AlexNet forward under inference_mode and
the argmax of every image's logits. The model runs on the CPU, or with `--device cuda` on
the first CUDA GPU (the batches pinned and copied over; the report says which ran).

One pass over every image is run untimed (warm-up), then `--repeat` timed passes, each
with a fresh DataLoader iterator (its workers started anew, as a single evaluation
would); the median is reported. Prints one JSON line on stdout; nothing else goes there.

`lesion bench` runs this script (a copy embedded in the binary) for its PyTorch
comparison; it also runs on its own:

    python bench/torch_pipeline.py DIR [--weights alexnet.pth] [--repeat 3] [--device cuda]
"""

import argparse
import json
import os
import sys
import time


def cores():
    """The cores this process may run on (what Rust's available_parallelism reports)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="ImageFolder directory: DIR/<class>/<image>")
    parser.add_argument(
        "--weights",
        help="torchvision-layout AlexNet state dict (.pth); default: random weights",
    )
    parser.add_argument("--batch", type=int, default=50, help="images per batch")
    parser.add_argument("--workers", type=int, default=cores(), help="DataLoader workers")
    parser.add_argument("--threads", type=int, default=cores(), help="torch intra-op threads")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes (median)")
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="where the model runs (cuda: the first CUDA GPU; the CPU when torch has none)",
    )
    args = parser.parse_args()

    import torch
    import torchvision
    from torchvision import datasets, models, transforms

    torch.set_num_threads(args.threads)
    transform = transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        ]
    )
    device = "cuda" if args.device == "cuda" and torch.cuda.is_available() else "cpu"
    dataset = datasets.ImageFolder(args.folder, transform=transform)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=args.batch,
        shuffle=False,
        num_workers=args.workers,
        pin_memory=device == "cuda",
    )
    model = models.alexnet(weights=None)
    if args.weights:
        state = torch.load(args.weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    model.eval().to(device)

    def one_pass():
        predicted = 0
        start = time.perf_counter()
        with torch.inference_mode():
            for images, _ in loader:
                images = images.to(device, non_blocking=True)
                # Every batch's answers back on the host, as lesion's are (this waits
                # for the GPU).
                predicted += model(images).argmax(dim=1).cpu().numel()
        if device == "cuda":
            torch.cuda.synchronize()
        took = time.perf_counter() - start
        if predicted != len(dataset):
            raise SystemExit(f"predicted {predicted} of {len(dataset)} images")
        return took

    one_pass()  # warm-up
    times = [one_pass() for _ in range(max(args.repeat, 1))]
    # The upper middle for an even count, as lesion bench takes it.
    median = sorted(times)[len(times) // 2]
    print(
        json.dumps(
            {
                "images_per_s": len(dataset) / median,
                "images": len(dataset),
                "seconds": median,
                "times": times,
                "torch": torch.__version__,
                "torchvision": torchvision.__version__,
                "threads": torch.get_num_threads(),
                "workers": args.workers,
                "batch": args.batch,
                "weights": args.weights or "random",
                "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
