"""The inference image: a SageMaker-contract model server and the script that trains its example model."""
