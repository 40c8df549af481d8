// Placeholder until the CNI plugin lands.
process.stderr.write("sart-cni: not implemented yet\n");
process.exitCode = 1;
