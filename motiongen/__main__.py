from motiongen.cli import main

main()
