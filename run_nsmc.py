"""Fine-tune a Korean BERT on NSMC: `accelerate launch run_nsmc.py --data_dir D --output_dir O`.

`main` is what accelerate's TPU launcher calls in each spawned process.
"""

from nsmc_trainer.cli import main

if __name__ == "__main__":
    main()
