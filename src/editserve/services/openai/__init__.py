"""Other APIs editserve speaks besides the hosted API's own: the OpenAI Images API."""
