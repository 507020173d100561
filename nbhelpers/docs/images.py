"""The docs' pictures: a matplotlib figure written as a PNG file, the same bytes for the same
figure (no software stamp), replaced atomically."""
from __future__ import annotations

from pathlib import Path


def write_png(fig, path: Path) -> Path:
    import io

    import matplotlib.pyplot as plt

    from nbhelpers.runs import write_bytes_atomic

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return write_bytes_atomic(path, buffer.getvalue(), overwrite=True)
