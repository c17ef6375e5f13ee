"""Business rules as plain Python: who may do what, which transitions are legal, what is
written. Only `tenantry.dal` talks to DynamoDB; adapters (`registry`, `workflows`) to other
AWS services."""
