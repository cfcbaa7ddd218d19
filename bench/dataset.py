"""Dataset recording benchmark: sustained frames/s with video encoding and atomic commits.

    python bench/dataset.py   (wraps `python -m vla_ros.data.benchmark`)
"""

from vla_ros.data.benchmark import main

if __name__ == "__main__":
    main()
