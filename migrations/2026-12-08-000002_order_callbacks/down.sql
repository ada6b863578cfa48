DROP TABLE callback_deliveries;
DROP TABLE order_callbacks;
