namespace Aviary.Metrics;
