-- The closed-network example's inventory (run.sh loads it into PostgreSQL).
CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL);
INSERT INTO items VALUES
  (1, 'Laptop stand', 12),
  (2, 'USB-C dock', 7),
  (3, 'Noise-cancelling headset', 3);
