"""Live paper trading, one module per job: `features` (bar-by-bar observation features), `feed` (messages, the growing
feed, websocket client, replay server), `orders` (risk gate, brokers), `adapt` (online fine-tuning), `trader` (the
loop, its logs and state, a live chart). Written by hand: nbdev generates the modules, not this file."""
