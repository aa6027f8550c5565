// Entry point of the `engram` CLI.
process.stdout.write('engram: commands arrive with the foundation\n');
