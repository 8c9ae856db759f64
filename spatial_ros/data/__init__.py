"""data layer (plain Python, no rclpy): scene graphs, referring expressions, the dataset on
disk, dataset generation from the simulator, bag auto-labelling, baselines and the referring
benchmark. See docs/data.md."""
