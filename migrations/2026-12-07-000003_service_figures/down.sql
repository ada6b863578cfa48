DROP TABLE IF EXISTS service_figures;
