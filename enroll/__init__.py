"""Enrolment: turning a camera, a video or photos into a user's unlock profile."""
