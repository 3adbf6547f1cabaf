"""Application review (issue 19): volunteer application reviewers read a complete application before
exam approval or the decision, assigned like essay reviewers; and application advisors, paired with an
applicant by a coordinator, who read the live checklist and leave notes the applicant sees."""
