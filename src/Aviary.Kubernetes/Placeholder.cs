namespace Aviary.Kubernetes;
