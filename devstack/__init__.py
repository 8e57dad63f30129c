"""The local stack: embedded moto server, resources from infra/, Chalice's local server, SQS pollers, demo data.

Development only: never packaged into the Lambda (Chalice bundles app.py, chalicelib/ and requirements.txt).
"""
