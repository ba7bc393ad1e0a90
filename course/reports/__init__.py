"""What a grading run writes: the gradebook, feedback, LMS exports and the class report."""
