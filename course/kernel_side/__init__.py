"""Scripts copied into the sandbox and run beside the student's code: standard library only, never `course`."""
