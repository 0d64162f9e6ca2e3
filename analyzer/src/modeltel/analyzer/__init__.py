"""modeltel analyzer."""
