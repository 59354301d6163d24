q={{GET[q]}}
