"""The ODR platform: the project and the parts both stages share."""
