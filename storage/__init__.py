"""Files a run writes: every output through a temp file and a rename, and the finished jobs that let
an interrupted run go on."""
