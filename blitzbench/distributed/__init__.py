"""Beyond one device: the chapter's training step under DistributedDataParallel, through torchrun.

  launcher   builds the torchrun command, starts it and reads back rank 0's result
  worker     what each rank runs, as torchrun starts it (``python -m blitzbench.distributed.worker CONFIG``)
  failures   the error file a failing rank leaves, and which rank's failure ended the run

The command is ``blitzbench distributed`` (blitzbench.cli.distributed).
"""
