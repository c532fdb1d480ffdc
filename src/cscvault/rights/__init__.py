"""Data-subject rights and complaints: register, UK deadlines, actions, access packages."""
