// Placeholder: the demo service is being written.
return 0;
