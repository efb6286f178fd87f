"""Nodes that start cleanly: the cluster record, the settings every node must agree on,
one first key and one URL-signing secret per cluster, and `editserve migrate`.

    cluster/
      agreed.py    which settings must agree across nodes; compare; the refusal message
      node.py      start_node: database reachable, storage usable, settings agree
      secret.py    the URL-signing secret every API node shares (the cluster record)
      migrate.py   `editserve migrate`: migrations, the cluster record, the first key

The command is commands/migrate.py (and what serve and worker check as they start,
commands/startup.py); the record itself lives in the store (store/cluster.py, migration 009).
"""
