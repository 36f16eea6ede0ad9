namespace Aviary.Metrics.Tests;
